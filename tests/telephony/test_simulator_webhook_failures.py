"""The simulated Twilio meets a platform that fails as Twilio would: it waits for a webhook's answer
``Profile.webhook_timeout`` seconds (15 by default), sends a call whose first webhook failed to the
number's fallback URL, ends a call whose later webhook failed, and posts the final status either
way; each request carries the proxy's arrival stamp (``X-Request-Start``)."""

from __future__ import annotations

import asyncio
import random
import time

from aiohttp import web

from telephony.simulator.twilio_side import CallRecord, Profile, Twilio
from tests.conftest import run_async
from tests.stub_platform import stub_platform

ASK = (
    '<Response><Gather action="/twilio/voice/gather" numDigits="1"><Say>Press 1 for sales.</Say></Gather>'
    "</Response>"
)
SORRY = "<Response><Say>Sorry, please call again.</Say><Hangup/></Response>"
TO_THE_FALLBACK = ["/twilio/voice/incoming", "/twilio/voice/fallback", "/twilio/voice/status"]


async def _call(
    incoming, gather=None, *, timeout: float = 15.0
) -> tuple[CallRecord, list[tuple[str, dict]], dict[str, list[float]]]:
    """One call against a platform whose incoming (and gather) webhooks are these handlers; every
    request the platform got, in order, with its form and stamp; how long each answered webhook
    took, by path, as the simulator measured it (``Twilio.took``)."""
    seen: list[tuple[str, dict]] = []

    def noted(handler):
        async def note(request: web.Request) -> web.StreamResponse:
            form = dict(await request.post())
            stamp = request.headers.get("X-Request-Start", "")
            seen.append((request.path, {**form, "stamp": stamp, "at": time.monotonic()}))
            return await handler(request)

        return note

    async def fallback(request: web.Request) -> web.Response:
        return web.Response(text=SORRY, content_type="text/xml")

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=204)

    routes = {
        "/twilio/voice/incoming": noted(incoming),
        "/twilio/voice/gather": noted(gather or fallback),
        "/twilio/voice/fallback": noted(fallback),
        "/twilio/voice/status": noted(status),
    }
    profile = Profile(webhook_timeout=timeout)
    async with stub_platform(routes) as connect:
        twilio = Twilio(base_url="https://localhost", connect=connect, auth_token="x" * 32,
                        rng=random.Random(4), profile=profile)  # fmt: skip
        async with twilio:
            record = await twilio.place_call(sid="CA" + "1" * 32, to="+15550199001", caller="+14155550100")
    return record, seen, {path: list(took) for path, took in twilio.took.items()}


def test_a_first_webhook_not_answered_in_twilios_wait_sends_the_call_to_the_fallback():
    async def behind(request: web.Request) -> web.Response:  # answers, but after Twilio's wait
        await asyncio.sleep(2.0)
        return web.Response(text=ASK, content_type="text/xml")

    record, seen, took = run_async(_call(behind, timeout=0.5))

    assert record.result == "fallback" and record.steps[:2] == ["fallback after TimeoutError", "Say"]
    assert record.answered_webhook_at is None  # the platform's answer never came
    assert [path for path, _ in seen] == TO_THE_FALLBACK
    fallback = seen[1][1]
    assert (
        fallback["CallSid"] == "CA" + "1" * 32 and fallback["To"] == "+15550199001"
    )  # the call's own fields
    assert 0.5 <= fallback["at"] - seen[0][1]["at"] < 1.5  # asked once Twilio's wait was over
    assert seen[2][1]["CallStatus"] == "completed"
    # An answer that never came is not timed: only the webhooks answered are.
    assert sorted(took) == ["/twilio/voice/fallback", "/twilio/voice/status"]


def test_a_first_webhook_refused_sends_the_call_to_the_fallback_at_once():
    async def refused(request: web.Request) -> web.Response:
        return web.Response(status=503, text="Not served")

    record, seen, took = run_async(_call(refused))

    assert record.result == "fallback" and record.steps[0] == "fallback after RuntimeError"
    assert [path for path, _ in seen] == TO_THE_FALLBACK
    assert "/twilio/voice/incoming" not in took  # refused: not timed


def test_a_later_webhook_that_fails_ends_the_call_and_its_final_status_is_posted():
    async def ask(request: web.Request) -> web.Response:
        return web.Response(text=ASK, content_type="text/xml")

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500, text="Server Error")

    record, seen, took = run_async(_call(ask, broken))

    assert record.result == "error" and record.steps[-1].startswith(
        "error: RuntimeError /twilio/voice/gather"
    )
    assert [path for path, _ in seen] == [
        "/twilio/voice/incoming",
        "/twilio/voice/gather",
        "/twilio/voice/status",
    ]
    assert seen[-1][1]["CallStatus"] == "completed"  # not left for the reconciliation to find
    assert sorted(took) == ["/twilio/voice/incoming", "/twilio/voice/status"]
    assert all(len(times) == 1 and 0 <= times[0] < 5 for times in took.values())


def test_each_request_carries_the_proxys_arrival_stamp():
    async def ask(request: web.Request) -> web.Response:
        return web.Response(text=ASK, content_type="text/xml")

    before = time.time()
    _, seen, _ = run_async(_call(ask))
    after = time.time()

    assert len(seen) == 3  # incoming, gather, status
    for _, form in seen:
        assert form["stamp"].startswith("t=") and before - 0.001 <= float(form["stamp"][2:]) <= after + 0.001
