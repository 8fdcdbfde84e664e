"""Calls bridged through conferences, as Twilio plays them: REST to Prism (with injected faults),
signed conference and participant callbacks with Twilio's field names."""

from __future__ import annotations

import itertools
from urllib.parse import parse_qs, urlencode, urlsplit

from django.conf import settings
from django.db import connection
from django.test import Client as HttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from telephony.models import Queue
from telephony.simulator.rest_faults import FaultPlan, FaultyHttpClient, Sent
from tests.twilio_kit import check_twiml

_sequence = itertools.count(1)
CONFERENCE_SID = "CF" + "c" * 32


def twilio_with_faults(monkeypatch, base_url: str, *script: str) -> FaultyHttpClient:
    """Point the platform's ``twilio`` client at ``base_url`` (Prism) through a faulty HTTP client."""
    http = FaultyHttpClient(base_url, FaultPlan(script=list(script)), timeout=10, max_retries=0)
    client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http)

    def faulty() -> Client:
        return client

    faulty.cache_clear = lambda: None  # as ``gateway.client``'s cache, which twilio_mock clears
    monkeypatch.setattr("telephony.gateway.client", faulty)
    return http


def main_queue(tenant, **fields) -> Queue:
    """The company's default queue (made once), with these ``fields`` set."""
    queue, _ = Queue.objects.get_or_create(tenant=tenant, is_default=True, defaults={"name": "Main"})
    Queue.objects.filter(pk=queue.pk).update(**fields)
    queue.refresh_from_db()
    return queue


def caller_updates(http: FaultyHttpClient, call_sid: str) -> list[Sent]:
    """The REST updates of the caller's call that Twilio answered (a move into or out of the
    conference), in order."""
    return [s for s in http.sent if s.url.endswith(f"/Calls/{call_sid}.json") and not s.fault]


def operator_legs(http: FaultyHttpClient) -> list[Sent]:
    """The operator legs the platform placed (calls created to a browser phone, ``client:…``), in
    order; each one's label is in its TwiML (``leg_label``)."""
    return [
        s for s in http.sent
        if s.method == "POST" and s.url.endswith("/Calls.json") and not s.fault
        and str(s.data.get("To", "")).startswith("client:")
    ]  # fmt: skip


def leg_label(leg: Sent) -> str:
    """The participant label an operator's leg joins the conference with (in its TwiML)."""
    return check_twiml(leg.data["Twiml"]).find("Dial/Conference").get("participantLabel")


def atomic_depths(http: FaultyHttpClient) -> list[int]:
    """The number of atomic blocks open on this thread's connection at each request the mock gets
    (filled as requests come). Compare with ``len(connection.atomic_blocks)`` in the test: a request
    sent at a deeper level was sent inside a transaction of the code under test, maybe holding row
    locks (the test's own transaction is the level the test sees)."""
    depths: list[int] = []
    send = http.request

    def request(*args, **kwargs):
        depths.append(len(connection.atomic_blocks))
        return send(*args, **kwargs)

    http.request = request
    return depths


class Twilio:
    """Signed webhooks through one test client (its middleware loaded once: a soak posts thousands)."""

    def __init__(self) -> None:
        self.host = settings.PLATFORM_HOST
        self.client = HttpClient(HTTP_HOST=self.host)
        self.validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)

    def post(self, path: str, params: dict[str, str], signature: str | None = None):
        if signature is None:
            signature = self.validator.compute_signature(f"http://{self.host}{path}", params)
        headers = {"HTTP_X_TWILIO_SIGNATURE": signature, "HTTP_USER_AGENT": "TwilioProxy/1.1"}
        form = "application/x-www-form-urlencoded"
        return self.client.post(path, data=urlencode(params), content_type=form, **headers)


_twilio: list[Twilio] = []


def signed_post(path: str, params: dict[str, str], signature: str | None = None):
    """POST ``params`` to ``path`` on the platform host the way Twilio does, signature included."""
    if not _twilio:
        _twilio.append(Twilio())
    return _twilio[0].post(path, params, signature)


def path_of(url: str) -> str:
    """A callback URL we handed Twilio, as the path Twilio posts to (``/twilio/voice/…?t=…``)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def conference_event(status_callback: str, event: str, **fields: str):
    """One conference status callback, as Twilio posts it."""
    params = {
        "AccountSid": "AC" + "1" * 32, "ConferenceSid": CONFERENCE_SID, "FriendlyName": "call",
        "StatusCallbackEvent": event, "SequenceNumber": str(next(_sequence)),
        "Timestamp": "Fri, 04 Dec 2026 16:00:00 +0000", "Muted": "false", "Hold": "false",
        "Coaching": "false", "EndConferenceOnExit": "false", "StartConferenceOnEnter": "true", **fields,
    }  # fmt: skip
    return signed_post(path_of(status_callback), params)


def leg_event(status_callback: str, status: str, leg_sid: str):
    """The operator's leg's call status callback."""
    params = {"AccountSid": "AC" + "1" * 32, "CallSid": leg_sid, "CallStatus": status,
              "Direction": "outbound-api", "From": "client:x", "To": "client:x"}  # fmt: skip
    return signed_post(path_of(status_callback), params)


def query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
