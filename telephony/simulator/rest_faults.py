"""Twilio's REST API as it fails: 429, 5xx, timeouts, "call gone", our request refused.

``FaultyHttpClient`` is the ``twilio`` client's HTTP client (its documented extension point) that
answers some requests with one of Twilio's error answers, or times out, and sends the others on
to ``base_url`` (Prism serving Twilio's spec in tests, which validates them; or the simulator).
Faults come from a script (the next requests, in order) and then at random with given rates.
"""

from __future__ import annotations

import email.utils
import json
import random
from dataclasses import dataclass, field

import requests
from twilio.http.response import Response

from telephony.gateway import RedirectingHttpClient

# Twilio's own answers: (HTTP status, Twilio error code, message).
ANSWERS: dict[str, tuple[int, int, str]] = {
    "429": (429, 20429, "Too Many Requests"),
    "500": (500, 20500, "Internal Server Error"),
    "503": (503, 20503, "Service Unavailable"),
    "404": (404, 20404, "The requested resource was not found"),
    "gone": (400, 21220, "Call is not in-progress. Cannot redirect."),
    "refused": (400, 21201, "No 'To' number is specified"),
}
TIMEOUT = "timeout"
LOST = "lost"  # Twilio did it, but its answer never came back (a read timeout after the request)
LOCAL = "local:"  # base URL answering every request that does not fail, in process


@dataclass
class Sent:
    method: str
    url: str
    data: dict
    fault: str = ""
    params: dict = field(default_factory=dict)  # the query string's (a list's filters)


@dataclass
class FaultPlan:
    """The next requests' faults in order (``script``), then random ``rates`` per fault."""

    script: list[str] = field(default_factory=list)
    rates: dict[str, float] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def next(self) -> str:
        if self.script:
            return self.script.pop(0)
        roll, total = self.rng.random(), 0.0
        for fault, rate in self.rates.items():
            total += rate
            if roll < total:
                return fault
        return ""


def error_response(fault: str) -> Response:
    status, code, message = ANSWERS[fault]
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}  # fmt: skip
    return Response(status, json.dumps(body))


class FaultyHttpClient(RedirectingHttpClient):
    """Sends requests on to ``base_url`` unless the plan says this one fails; keeps what was sent."""

    def __init__(self, base_url: str, plan: FaultPlan | None = None, **kwargs: object) -> None:
        super().__init__(base_url, **kwargs)
        self.plan = plan or FaultPlan()
        self.sent: list[Sent] = []
        self.lost: list[Response] = []  # the answers of requests done but answered with a timeout
        self.placed: list[dict] = []  # calls created whose answer was lost: Twilio lists them

    def request(self, method, url, params=None, data=None, *args, **kwargs):
        fault = self.plan.next()
        self.sent.append(Sent(method, url, dict(data or {}), fault, dict(params or {})))
        listed = self._listed(method, url, params or {})
        if listed is not None and not fault:
            return listed
        if fault == TIMEOUT:
            raise requests.exceptions.ReadTimeout(f"simulated: {url} did not answer in time")
        if fault and fault != LOST:
            return error_response(fault)
        if self.base_url == LOCAL:
            answer = local_answer(method, url, self.plan.rng)
        else:
            answer = super().request(method, url, params, data, *args, **kwargs)
        if fault == LOST:
            self.lost.append(answer)
            if method == "POST" and url.endswith("/Calls.json") and answer.status_code == 201:
                self.placed.append({
                    "sid": json.loads(answer.text)["sid"], "to": data["To"], "from": data["From"],
                    "status": "queued", "date_created": email.utils.formatdate(usegmt=True),
                })  # fmt: skip
            raise requests.exceptions.ReadTimeout(f"simulated: {url} done, its answer lost")
        return answer

    def _listed(self, method: str, url: str, params: dict) -> Response | None:
        """``GET …/Calls.json?To=…&From=…`` when a create whose answer was lost placed such a call:
        the list Twilio would give (the mock behind knows nothing of it). None otherwise."""
        if method != "GET" or not url.endswith("/Calls.json"):
            return None
        calls = [c for c in self.placed if (c["to"], c["from"]) == (params.get("To"), params.get("From"))]
        return _page(url, calls[::-1]) if calls else None


def _page(url: str, calls: list[dict]) -> Response:
    return Response(200, json.dumps({"calls": calls, "page": 0, "page_size": 20, "next_page_uri": None,
                                     "uri": url}))  # fmt: skip


def local_answer(method: str, url: str, rng: random.Random) -> Response:
    """Twilio's success answer, in process (no request validation: Prism's job in other tests)."""
    sid = f"CA{rng.getrandbits(128):032x}"
    if url.endswith("/Participants.json"):
        body = {"call_sid": sid, "conference_sid": "CF" + "0" * 32, "status": "queued"}
        return Response(201, json.dumps(body))
    if url.endswith("/Calls.json") and method == "GET":  # the calls placed to a phone: none
        return _page(url, [])
    if url.endswith("/Calls.json"):  # a call created (the operator's leg)
        return Response(201, json.dumps({"sid": sid, "status": "queued"}))
    body = {"sid": url.rsplit("/", 1)[-1].removesuffix(".json"), "status": "in-progress"}
    return Response(200, json.dumps(body))
