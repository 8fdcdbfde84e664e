"""Issue 22: the simulated Twilio plays an outbound call's final status callback (and can lose it,
as the inbound ones), and its REST API then says the call is over, so the reconciliation (the real
``twilio`` client, ``reconcile.fetch_call``) can finish it on the platform."""

from __future__ import annotations

import asyncio
import random

import pytest
from aiohttp import web
from django.test import override_settings

from telephony import gateway, reconcile
from telephony.simulator.faults import Faults, FaultyTwilio
from telephony.simulator.outbound_side import Callee
from telephony.simulator.twilio_side import Profile
from tests.conftest import run_async
from tests.stub_platform import stub_platform

CALLEE = "+14155550100"


async def _one_call(faults: Faults, outcome: str) -> tuple[list[dict], reconcile.TwilioCall | None]:
    """One outbound call placed through the simulated REST API to a platform that only answers
    (its TwiML hangs up) and notes the status callbacks; what Twilio's REST says once it is over."""
    statuses: list[dict] = []

    async def answer(request: web.Request) -> web.Response:
        return web.Response(text="<Response><Say>Hello</Say><Hangup/></Response>", content_type="text/xml")

    async def status(request: web.Request) -> web.Response:
        statuses.append(dict(await request.post()))
        return web.Response(status=204)

    routes = {"/twilio/voice/outbound/answer": answer, "/twilio/voice/outbound/status": status}
    async with stub_platform(routes) as connect:
        kwargs = {"base_url": "https://localhost", "connect": connect, "auth_token": "x" * 32}
        twilio = FaultyTwilio(
            faults=faults, rng=random.Random(3), profile=Profile(), callee=Callee(default=outcome), **kwargs
        )
        try:
            async with twilio:
                with override_settings(TWILIO_API_BASE_URL=twilio.rest_url):
                    gateway.client.cache_clear()
                    made = await asyncio.to_thread(
                        gateway.client().calls.create,
                        to=CALLEE,
                        from_="+14155550199",
                        url="https://localhost/twilio/voice/outbound/answer?t=t_alpha&c=1",
                        status_callback="https://localhost/twilio/voice/outbound/status?t=t_alpha&c=1",
                        status_callback_event=["ringing", "answered", "completed"],  # as the dialer asks
                    )
                    await twilio.outbound.drain()
                    real = await asyncio.to_thread(reconcile.fetch_call, made.sid)
        finally:
            gateway.client.cache_clear()
    return statuses, real


@pytest.mark.parametrize(("outcome", "final"), [("human", "completed"), ("busy", "busy")])
def test_an_outbound_call_ends_with_twilios_final_status_callback(outcome, final):
    faults = Faults()
    statuses, real = run_async(_one_call(faults, outcome))
    assert [s["CallStatus"] for s in statuses][-1] == final
    assert statuses[-1]["Direction"] == "outbound-api" and faults.lost == []
    assert real is not None and real.status == final and real.end_time is not None


def test_a_lost_outbound_final_callback_leaves_twilios_rest_status_completed_for_the_reconciliation():
    faults = Faults(lost_status=1.0)
    statuses, real = run_async(_one_call(faults, "human"))
    assert [s["CallStatus"] for s in statuses] == ["ringing", "in-progress"]  # the final one lost
    assert len(faults.lost) == 1
    assert real is not None and real.sid == faults.lost[0]
    assert (real.status, real.direction) == ("completed", "outbound")  # was in-progress for ever
    assert real.end_time is not None and real.duration is not None


def test_the_simulated_twilio_lists_its_recordings_for_the_reconciliation():
    """The reconciliation lists Twilio's recordings (the real client) to import any whose callback
    was lost: the simulated Twilio answers that list with the recordings it made (it was a 404,
    logged every minute in the demo)."""

    async def listed() -> tuple[str, list]:
        kwargs = {"base_url": "https://localhost", "connect": "127.0.0.1:9", "auth_token": "x" * 32}
        async with FaultyTwilio(faults=Faults(), rng=random.Random(1), profile=Profile(), **kwargs) as twilio:
            made = twilio.recordings.completed(call_sid="CA" + "1" * 32, seconds=4.2)
            with override_settings(TWILIO_API_BASE_URL=twilio.rest_url):
                gateway.client.cache_clear()
                try:
                    found = await asyncio.to_thread(gateway.client().recordings.list, limit=1000)
                finally:
                    gateway.client.cache_clear()
        return made["RecordingSid"], found

    sid, found = run_async(listed())
    assert [(r.sid, r.call_sid, r.status, r.duration) for r in found] == [
        (sid, "CA" + "1" * 32, "completed", "4")
    ]
