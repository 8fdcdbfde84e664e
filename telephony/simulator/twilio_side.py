"""Twilio's side of whole calls, played against a running server.

A simulated call posts signed webhooks and follows the TwiML it gets back (gather, enqueue and
wait, leave, record, dial, hang up), then posts the status callback. The same process serves the
small part of Twilio's REST API the platform uses (updating a live call with new TwiML, creating
an outbound call: see ``outbound_side``), so a call the router bridges is taken out of its queue
exactly as Twilio would.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

from telephony.simulator.conference_side import Conferences
from telephony.simulator.outbound_side import Callee, OutboundCalls
from telephony.simulator.recordings import Recordings
from telephony.simulator.rest_status import call_status, child_calls
from telephony.simulator.twiml_reader import parse


@dataclass
class Profile:
    """How simulated callers behave."""

    patience: tuple[float, float] = (20.0, 90.0)  # seconds a caller waits before hanging up
    talk: tuple[float, float] = (3.0, 10.0)  # seconds of conversation once bridged (uniform)
    talk_median: float = 0.0  # when set: talk is lognormal around this median (seconds) instead
    talk_sigma: float = 0.5
    wait_turn: float = 2.0  # seconds of hold music between two wait-URL requests
    press_key: float = 0.05  # chance, per wait turn, that the caller asks to leave the queue
    want_callback: float = 0.5  # when leaving: callback (else voicemail)
    duplicate: float = 0.0  # chance Twilio posts a webhook twice (it retries; signatures allow replays)
    late_status: float = 0.0  # chance earlier status callbacks arrive after "completed"
    # The operator's leg into the call's conference: seconds it rings, chances it does not join.
    ring: tuple[float, float] = (0.05, 0.3)
    leg_no_answer: float = 0.0
    leg_busy: float = 0.0
    leg_failed: float = 0.0
    reorder: float = 0.0  # chance a conference callback arrives late (after later ones)
    # Twilio's REST answers failing, per request: {"429": 0.05, "500": 0.05, "timeout": 0.02}
    rest_faults: dict[str, float] = field(default_factory=dict)
    # Twilio's wait for a webhook's answer: after it the request fails (error 11205), and a call
    # whose first webhook failed is sent to the number's fallback URL.
    webhook_timeout: float = 15.0

    def talk_seconds(self, rng: random.Random) -> float:
        """One conversation's length once bridged."""
        if self.talk_median:
            return rng.lognormvariate(math.log(self.talk_median), self.talk_sigma)
        return rng.uniform(*self.talk)

    def mean_talk(self) -> float:
        if self.talk_median:
            return self.talk_median * math.exp(self.talk_sigma**2 / 2)
        return sum(self.talk) / 2


@dataclass
class CallRecord:
    """What the simulator saw of one call: the figures its KPIs are computed from."""

    sid: str
    tenant_number: str
    placed_at: float
    answered_webhook_at: float | None = None  # the platform's answer to the first webhook came
    enqueued_at: float | None = None
    bridged_at: float | None = None
    ended_at: float | None = None
    result: str = ""  # handled, ivr, abandoned, callback, voicemail, fallback, refused, error
    steps: list[str] = field(default_factory=list)


# The number's fallback URL, as the platform's demo and tests set it: the platform's own, on the web
# (in production a static host's: README, "The fallback outside the platform").
FALLBACK_PATH = "/twilio/voice/fallback"
TOOK_KEPT = 10_000  # webhooks' answer times kept by path (``Twilio.took``)


def _origin(connect: str) -> str:
    """``host:port`` (or an http:// URL) as the origin requests are sent to."""
    return "http://" + connect.removeprefix("http://").rstrip("/")


class Twilio:
    """The webhooks' caller and the REST API's server, for one platform base URL."""

    def __init__(self, *, base_url: str, connect: str, auth_token: str, rng: random.Random, profile: Profile,
                 rest_port: int = 0, callee: Callee | None = None,
                 routes: dict[str, str] | None = None) -> None:  # fmt: skip
        self.base_url = base_url.rstrip("/")  # what the platform thinks Twilio called
        self.connect = _origin(connect)  # where it listens
        # Paths sent elsewhere (path → host:port), as a proxy in front of the platform routes them:
        # the webhooks a caller waits on to the voice processes (``telephony.urls.CALLER_WAITS``),
        # the callbacks to the hooks processes (``CALLBACKS``).
        self.routes = {path: _origin(where) for path, where in (routes or {}).items()}
        self.sent_to: Counter[str] = Counter()  # webhooks sent, by where they were sent
        self.validator = RequestValidator(auth_token)
        self.rng, self.profile = rng, profile
        self.redirects: dict[str, asyncio.Future[str]] = {}
        self.records: list[CallRecord] = []
        self.posted: Counter[str] = Counter()  # webhooks sent, by path (replays included)
        # The seconds each answered webhook took, by path, the latest ``TOOK_KEPT`` (failures not
        # counted): a reader clears it to measure from then on.
        self.took: defaultdict[str, deque[float]] = defaultdict(lambda: deque(maxlen=TOOK_KEPT))
        self.session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.rest_url = ""
        self.rest_port = rest_port
        self.outbound = OutboundCalls(self, callee or Callee())
        self.conferences = Conferences(self)
        self.recordings = Recordings()
        self.callback_errors: list[str] = []

    async def __aenter__(self) -> Twilio:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        app = web.Application(middlewares=[self.conferences.failing])
        self.conferences.routes(app)
        app.router.add_post("/2010-04-01/Accounts/{account}/Calls/{sid}.json", self._update_call)
        app.router.add_post("/2010-04-01/Accounts/{account}/Calls.json", self.outbound.create)
        app.router.add_get("/2010-04-01/Accounts/{account}/Calls/{sid}.json", self._fetch_call)  # issue 22
        app.router.add_get("/2010-04-01/Accounts/{account}/Calls.json", self._child_calls)
        app.router.add_get("/2010-04-01/Accounts/{account}/Recordings.json", self.recordings.listing)
        app.router.add_get("/2010-04-01/Accounts/{account}/Recordings/{name}", self.recordings.media)
        app.router.add_delete("/2010-04-01/Accounts/{account}/Recordings/{name}", self.recordings.delete)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.rest_port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.rest_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in [*self.outbound.tasks, *self.conferences.tasks]:
            task.cancel()
        await self.outbound.drain()
        if self.session:
            await self.session.close()
        if self._runner:
            await self._runner.cleanup()

    async def _update_call(self, request: web.Request) -> web.Response:
        """``client.calls(sid).update(twiml=…)``: the live call leaves whatever it was doing."""
        sid = request.match_info["sid"]
        form = await request.post()
        future = self.redirects.get(sid)
        if future is None and form.get("Status") == "completed" and self.conferences.hang_up(sid):
            return web.json_response(
                {"sid": sid, "status": "completed", "account_sid": request.match_info["account"]}
            )
        if future is None:
            return web.json_response(
                {"code": 20404, "message": "The requested resource was not found", "status": 404}, status=404
            )
        if future.done():
            return web.json_response(
                {"code": 21220, "message": "Call is not in-progress", "status": 400}, status=400
            )
        if form.get("Status") == "completed":
            future.set_result("<Response><Hangup/></Response>")
        else:
            future.set_result(str(form.get("Twiml", "<Response/>")))
        return web.json_response(
            {"sid": sid, "status": "in-progress", "account_sid": request.match_info["account"]}
        )

    async def _fetch_call(self, request: web.Request) -> web.Response:
        """``client.calls(sid).fetch()``: the reconciliation asks for a call's real status."""
        return await call_status(self, request)

    async def _child_calls(self, request: web.Request) -> web.Response:
        return await child_calls(self, request)

    async def post(self, url: str, params: dict[str, str]) -> str:
        """A signed POST to the platform, the way Twilio sends webhooks."""
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        signed_url = self.base_url + path
        headers = {
            "X-Twilio-Signature": self.validator.compute_signature(signed_url, params),
            "Host": urlsplit(self.base_url).netloc,
            "User-Agent": "TwilioProxy/1.1",
        }
        assert self.session is not None
        replay = self.rng.random() < self.profile.duplicate
        if replay:  # the same request, concurrently: only one of the answers is followed
            asyncio.get_running_loop().create_task(self._send(path, params, headers))
        return await self._send(path, params, headers)

    async def _send(self, path: str, params: dict[str, str], headers: dict[str, str]) -> str:
        assert self.session is not None
        route = urlsplit(path).path
        self.posted[route] += 1
        origin = self.routes.get(route, self.connect)
        self.sent_to[origin] += 1
        # The proxy in front of the platform stamps each request as it receives it (docs/scale.md §4).
        stamped = {**headers, "X-Request-Start": f"t={time.time():.3f}"}
        waits = aiohttp.ClientTimeout(total=self.profile.webhook_timeout)
        sent = time.monotonic()
        async with self.session.post(origin + path, data=params, headers=stamped, timeout=waits) as response:
            text = await response.text()
            if response.status >= 400:
                raise RuntimeError(f"{path} answered {response.status}: {text[:200]}")
            self.took[route].append(time.monotonic() - sent)
            return text

    async def place_call(self, *, sid: str, to: str, caller: str) -> CallRecord:
        """One inbound call from the first ring to the status callback."""
        record = CallRecord(sid=sid, tenant_number=to, placed_at=time.monotonic())
        self.records.append(record)
        # Like Twilio's, the call can be redirected by REST from its first ring to its hang-up.
        self.redirects[sid] = asyncio.get_running_loop().create_future()
        call = _Call(self, record, caller)
        try:
            await call.run()
        except Exception as exc:  # the simulator reports a broken call; it never stops the others
            record.result = record.result or "error"
            record.steps.append(f"error: {type(exc).__name__} {exc}".rstrip())
            # As Twilio after a webhook it could not use (error 11200): the call ends, and its final
            # status is posted (a platform that is down refuses that too).
            with contextlib.suppress(Exception):
                await call.hang_up()
        finally:
            future = self.redirects.pop(sid)
            if not future.done():
                future.cancel()
        record.ended_at = record.ended_at or time.monotonic()
        return record


class _Call:
    def __init__(self, twilio: Twilio, record: CallRecord, caller: str) -> None:
        self.twilio, self.record, self.caller = twilio, record, caller
        self.rng, self.profile = twilio.rng, twilio.profile
        self.patience = self.rng.uniform(*self.profile.patience)
        self.params = {
            "AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", "CallSid": record.sid,
            "From": caller, "To": record.tenant_number, "Caller": caller, "Called": record.tenant_number,
            "Direction": "inbound", "CallStatus": "ringing",
        }  # fmt: skip
        self.over = False

    async def run(self) -> None:
        try:
            twiml = await self.twilio.post("/twilio/voice/incoming", self.params)
            self.record.answered_webhook_at = time.monotonic()
        except (TimeoutError, aiohttp.ClientError, RuntimeError) as exc:
            # As Twilio: the voice webhook failed (an error, or no answer within its wait), so the
            # number's fallback URL is asked, with the same fields, and its TwiML played.
            self.record.result = "fallback"
            self.record.steps.append(f"fallback after {type(exc).__name__}")
            twiml = await self.twilio.post(FALLBACK_PATH, self.params)
        await self.follow(twiml)
        if not self.over:
            await self.hang_up()

    async def send(self, url: str, **fields: str) -> str:
        return await self.twilio.post(url, {**self.params, "CallStatus": "in-progress", **fields})

    async def follow(self, twiml: str) -> None:
        """Play a TwiML document verb by verb, as Twilio does."""
        for verb in parse(twiml):
            if self.over:
                return
            if (moved := self._redirected_meanwhile()) is not None:  # as Twilio: an update replaces
                await self.follow(moved)  # whatever plays now
                return
            self.record.steps.append(verb.tag)
            if verb.tag in {"Say", "Play", "Pause"}:
                continue
            if verb.tag == "Hangup":
                await self.hang_up()
                return
            if verb.tag == "Gather":
                await self.follow(await self.send(verb.get("action"), **self._answer(verb)))
                return
            if verb.tag == "Enqueue":
                await self.wait_in_queue(verb)
                return
            if verb.tag == "Record":
                self.record.result = self.record.result or "voicemail"
                message = self.twilio.recordings.completed(call_sid=self.record.sid, seconds=9)
                twiml = await self.send(
                    verb.get("action"),
                    RecordingUrl=message["RecordingUrl"],
                    RecordingDuration=message["RecordingDuration"],
                    Digits="#",
                )
                if verb.get("recordingStatusCallback"):  # the message's audio is ready
                    await self.twilio.post(verb.get("recordingStatusCallback"), {**self.params, **message})
                await self.follow(twiml)
                return
            if verb.tag == "Redirect":
                await self.follow(await self.send(verb.text or ""))
                return
            if verb.tag == "Dial" and verb.find("Conference") is not None:
                await self.twilio.conferences.caller_joins(self, verb)
                continue  # then the verbs after the <Dial> (a hang-up)
            if verb.tag == "Dial":
                await self.dial(verb)
                return
        # The end of a document hangs up.

    def _redirected_meanwhile(self) -> str | None:
        """The TwiML of a bridge that arrived after the caller left the queue (issue 22's soak)."""
        future = self.twilio.redirects.get(self.record.sid)
        if self.record.bridged_at is not None or future is None or not future.done() or future.cancelled():
            return None
        if "<Dial" not in future.result():
            return None
        self.record.bridged_at = time.monotonic()
        self.record.steps.append("redirected")
        return future.result()

    def _answer(self, gather: ET.Element) -> dict[str, str]:
        """Press one of the keys the prompt offers (or stay silent now and then)."""
        said = " ".join(el.text or "" for el in gather.iter("Say"))
        if "your place in line, press 1" in said:  # a callback that keeps the place, or a message
            if self.rng.random() < self.profile.want_callback:
                self.record.result = "callback_kept"
                return {"Digits": "1"}
            return {"Digits": "2"}
        if "To confirm, press 1" in said:  # the number heard is right
            return {"Digits": "1"}
        if "type the number" in said:  # typed in full; the pound key ends it (Twilio drops it)
            return {"Digits": self.caller.lstrip("+")}
        if "press 1" in said.lower() and "press 2" in said.lower() and "called back" in said:
            if self.rng.random() < self.profile.want_callback:
                self.record.result = "callback"
                return {"Digits": "1"}
            return {"Digits": "2"}
        if self.rng.random() < 0.1:
            return {}
        digits = [d for d in "123456789" if f"{d}" in said]
        return {"Digits": self.rng.choice(digits or ["1"])}

    async def wait_in_queue(self, enqueue: ET.Element) -> None:
        record = self.record
        record.enqueued_at = time.monotonic()
        future = self.twilio.redirects[record.sid]
        result = "hangup"
        while True:
            waited = time.monotonic() - record.enqueued_at
            if waited >= self.patience:
                break
            turn = await self.send(
                enqueue.get("waitUrl"), QueueTime=str(int(waited)), QueueSid="QU" + "0" * 32
            )
            root = parse(turn)
            if root.find("Leave") is not None:
                result = "leave"
                break
            if root.find("Gather") is not None and self.rng.random() < self.profile.press_key:
                key_reply = parse(await self.send(root.find("Gather").get("action"), Digits="*"))
                if key_reply.find("Leave") is not None:
                    result = "leave"
                    break
            timeout = min(self.profile.wait_turn, max(0.05, self.patience - waited))
            try:
                await asyncio.wait_for(asyncio.shield(future), timeout)
                result = "redirected"
                break
            except TimeoutError:
                continue
        waited = str(int(time.monotonic() - record.enqueued_at))
        after = await self.send(enqueue.get("action"), QueueResult=result, QueueTime=waited)
        if result == "redirected":  # answered when the operator joins the conference
            await self.follow(future.result())
        elif result == "hangup":
            record.result = "abandoned"
            await self.hang_up()
        else:
            await self.follow(after)

    async def dial(self, dial: ET.Element) -> None:
        """The operator (or specialist) answers; they talk; the caller hangs up."""
        talk = self.profile.talk_seconds(self.rng)
        await asyncio.sleep(talk)
        self.record.result = "handled"
        dialled = f"CA{self.rng.getrandbits(128):032x}"
        await self.follow(
            await self.send(
                dial.get("action"),
                DialCallStatus="completed",
                DialCallDuration=str(int(talk)),
                DialCallSid=dialled,
            )
        )

    async def hang_up(self) -> None:
        if self.over:
            return
        self.over = True
        duration = str(int(time.monotonic() - self.record.placed_at))
        await self.twilio.post(
            "/twilio/voice/status", {**self.params, "CallStatus": "completed", "CallDuration": duration}
        )
        self.record.ended_at = time.monotonic()
        if not self.record.result:
            self.record.result = (
                "ivr" if "Gather" in self.record.steps and "Enqueue" not in self.record.steps else "ended"
            )
