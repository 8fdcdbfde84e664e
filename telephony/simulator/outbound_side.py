"""Twilio's side of outbound calls: ``calls.create`` on the simulated REST API, then the callee.

The callee rings, then is busy, does not answer, is an answering machine (``AnsweredBy`` when the
platform asked for machine detection) or a person, who stays on the line until the operator ends
the call (or ``max_talk`` passes). The TwiML the platform answers with is played: ``<Say>``/
``<Play>``, ``<Dial>`` (the bridge to the operator, which a REST update can interrupt: hold music,
back to the operator, hang up), ``<Hangup>``; then the final status callback.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from telephony.simulator.rest_status import STATUS_EVENT
from telephony.simulator.twiml_reader import parse

if TYPE_CHECKING:
    from telephony.simulator.twilio_side import Twilio

OUTCOMES = ("human", "machine", "busy", "no-answer")


@dataclass
class Callee:
    """How the people the platform dials behave; ``outcomes`` fixes it per number."""

    outcomes: dict[str, str] = field(default_factory=dict)  # number → human | machine | busy | no-answer
    default: str = "human"
    ring: tuple[float, float] = (0.1, 0.4)
    max_talk: float = 60.0  # a person hangs up after this if the operator has not ended the call
    miss_first: float = 0.0  # chance a person does not answer the first call to their number

    def outcome(self, number: str) -> str:
        return self.outcomes.get(number, self.default)


@dataclass
class OutboundRecord:
    sid: str
    to: str
    placed_at: float
    answered_by: str = ""
    result: str = ""  # human, machine, busy, no-answer, error
    ended_at: float | None = None  # monotonic: the call is over at Twilio (its REST status says so)
    # In the call's conference (a callback that kept the caller's place): as a caller's record.
    enqueued_at: float | None = None
    bridged_at: float | None = None
    steps: list[str] = field(default_factory=list)


class OutboundCalls:
    """The calls the platform places, each played as its callee would."""

    def __init__(self, twilio: Twilio, callee: Callee) -> None:
        self.twilio, self.callee = twilio, callee
        self.records: list[OutboundRecord] = []
        self.tasks: set[asyncio.Task] = set()
        self.dialled: dict[str, int] = {}  # number → calls placed to it

    async def create(self, request: web.Request) -> web.Response:
        """``client.calls.create(to=…, from_=…, url=…, status_callback=…, machine_detection=…)``."""
        form = await request.post()
        missing = [name for name in ("To", "From") if not form.get(name)]
        if missing or not (form.get("Url") or form.get("Twiml")):
            message = f"Missing required parameter {(missing or ['Url'])[0]} in the post body"
            return web.json_response({"code": 21205, "message": message, "status": 400}, status=400)
        if str(form["To"]).startswith("client:"):  # an operator's browser phone: into a conference
            return await self.twilio.conferences.ring_client(request, form)
        sid = "CA" + uuid.uuid4().hex
        record = OutboundRecord(sid=sid, to=str(form["To"]), placed_at=time.monotonic())
        self.records.append(record)
        self.twilio.redirects[sid] = asyncio.get_running_loop().create_future()
        asked = {e for value in form.getall("StatusCallbackEvent", []) for e in str(value).split()}
        play = self._play(record, dict(form), frozenset(asked or {"completed"}))  # Twilio's default
        task = asyncio.get_running_loop().create_task(play)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        body = {
            "sid": sid, "account_sid": request.match_info["account"], "to": record.to,
            "from": form["From"], "status": "queued", "direction": "outbound-api",
        }  # fmt: skip
        return web.json_response(body, status=201)

    async def _play(self, record: OutboundRecord, form: dict[str, str], events: frozenset[str]) -> None:
        try:
            await _Callee(self, record, form, events).run()
        except Exception as exc:  # a broken call is reported, it never stops the others
            record.result = record.result or "error"
            record.steps.append(f"error: {exc}")
        finally:
            record.ended_at = record.ended_at or time.monotonic()
            future = self.twilio.redirects.pop(record.sid, None)
            if future is not None and not future.done():
                future.cancel()

    async def drain(self) -> None:
        if self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)


class _Callee:
    def __init__(
        self, calls: OutboundCalls, record: OutboundRecord, form: dict[str, str], events: frozenset[str]
    ) -> None:
        self.calls, self.twilio, self.record, self.form = calls, calls.twilio, record, form
        self.events = events  # the ``StatusCallbackEvent``s asked for
        self.rng = self.twilio.rng
        self.params = {
            "AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", "CallSid": record.sid,
            "From": form["From"], "To": form["To"], "Caller": form["From"], "Called": form["To"],
            "Direction": "outbound-api",
        }  # fmt: skip
        self.answered_at: float | None = None
        self.over = False
        # In a conference the callee is played as a caller there (``Conferences.caller_joins``).
        self.profile, self.patience = self.twilio.profile, calls.callee.max_talk

    async def status(self, status: str, **fields: str) -> None:
        """The call's status callback, when its ``StatusCallbackEvent``s asked for this status (the
        final ones come under ``completed``)."""
        if self.form.get("StatusCallback") and STATUS_EVENT.get(status, "completed") in self.events:
            await self.twilio.post(
                self.form["StatusCallback"], {**self.params, "CallStatus": status, **fields}
            )

    async def run(self) -> None:
        callee = self.calls.callee
        outcome = callee.outcome(self.record.to)
        tries = self.calls.dialled[self.record.to] = self.calls.dialled.get(self.record.to, 0) + 1
        if outcome == "human" and tries == 1 and callee.miss_first and self.rng.random() < callee.miss_first:
            outcome = "no-answer"  # picks up only when called again
        await self.status("initiated")
        await asyncio.sleep(self.rng.uniform(*callee.ring))
        await self.status("ringing")
        if outcome in ("busy", "no-answer"):
            self.record.result = outcome
            self.over, self.record.ended_at = True, time.monotonic()
            await self.status(outcome, CallDuration="0")
            return
        self.answered_at = time.monotonic()
        fields = {}
        if self.form.get("MachineDetection"):
            fields["AnsweredBy"] = "machine_end_beep" if outcome == "machine" else "human"
            self.record.answered_by = fields["AnsweredBy"]
        self.record.result = outcome
        await self.status("in-progress")
        answer = {**self.params, "CallStatus": "in-progress", **fields}
        await self.follow(await self.twilio.post(self.form["Url"], answer))
        await self.hang_up()

    async def follow(self, twiml: str) -> None:
        for verb in parse(twiml):
            if self.over:
                return
            self.record.steps.append(verb.tag)
            if verb.tag in {"Say", "Pause"}:
                continue
            if verb.tag == "Play":
                if verb.get("loop") == "0":  # music until a REST update moves the call
                    moved = await self._next_redirect(self.calls.callee.max_talk)
                    if moved is not None:
                        await self.follow(moved)
                    return
                continue
            if verb.tag == "Hangup":
                return
            if verb.tag == "Dial" and verb.find("Conference") is not None:  # called back into the call's
                await self.twilio.conferences.caller_joins(self, verb)  # conference: the operator joins
                continue
            if verb.tag == "Dial":
                await self.dial(verb)
                return
            if verb.tag == "Redirect":
                await self.follow(await self.send(verb.text or ""))
                return

    async def send(self, url: str, **fields: str) -> str:
        return await self.twilio.post(url, {**self.params, "CallStatus": "in-progress", **fields})

    async def _next_redirect(self, timeout: float) -> str | None:
        """Wait for ``calls(sid).update(…)`` (None: the callee gave up and hangs up first).

        The call can be moved again afterwards (hold, then back to the operator)."""
        future = self.twilio.redirects[self.record.sid]
        try:
            result = await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return None
        self.twilio.redirects[self.record.sid] = asyncio.get_running_loop().create_future()
        return result

    async def dial(self, dial) -> None:
        """Bridged to the operator: on the line until the operator ends the call or moves it."""
        started = time.monotonic()
        moved = await self._next_redirect(self.calls.callee.max_talk)
        talk = str(int(time.monotonic() - started))
        if moved is None:  # the callee hangs up: the operator's leg ends, Twilio asks the Dial action
            after = await self.send(dial.get("action"), DialCallStatus="completed", DialCallDuration=talk)
            await self.follow(after)
            return
        if "<Hangup" in moved:  # the operator ended the call (REST status=completed)
            self.record.steps.append("ended by operator")
            return
        await self.follow(moved)

    async def hang_up(self) -> None:
        if self.over:
            return
        self.over, self.record.ended_at = True, time.monotonic()
        duration = str(int(self.record.ended_at - (self.answered_at or self.record.placed_at)))
        await self.status("completed", CallDuration=duration)  # Twilio's final status callback
