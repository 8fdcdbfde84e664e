"""Issue 23: a conference participant's leg asks Twilio only for its final status callback
(``gateway.LEG_STATUS_EVENTS``: "completed", which carries busy, no-answer, failed and canceled too),
and the simulated Twilio honours the ``StatusCallbackEvent``s asked for, as Twilio does."""

from __future__ import annotations

import asyncio
import random

import pytest
from django.test import override_settings

from telephony import gateway, twiml
from telephony.simulator.outbound_side import Callee
from telephony.simulator.twilio_side import Profile, Twilio
from tests.conftest import run_async

LEG_CALLBACK = "https://localhost/twilio/conference-leg?t=t_alpha&c=1&r=7"


async def _leg_statuses(profile: Profile) -> list[str]:
    """The operator's leg added through the real ``twilio`` client to a simulated conference whose
    caller is in and which ends at once: the call statuses posted to the leg's callback."""
    posted: list[tuple[str, dict[str, str]]] = []

    async def record(url: str, params: dict[str, str]) -> str:
        posted.append((url, params))
        return ""

    kwargs = {"base_url": "https://localhost", "connect": "127.0.0.1:9", "auth_token": "x" * 32}
    async with Twilio(rng=random.Random(5), profile=profile, **kwargs) as twilio:
        twilio.post = record  # the platform's side: what Twilio would post to it
        room = twilio.conferences.room("call-CA1")
        room.caller_in.set()
        room.ended.set()
        with override_settings(TWILIO_API_BASE_URL=twilio.rest_url):
            gateway.client.cache_clear()
            try:
                answer, leg = await asyncio.to_thread(
                    gateway.add_participant,
                    conference="call-CA1",
                    identity="operator-1",
                    label="operator-7",
                    status_callback=LEG_CALLBACK,
                    timeout=20,
                )
            finally:
                gateway.client.cache_clear()
        assert answer is gateway.Answer.DONE and leg
        while twilio.conferences.tasks:
            await asyncio.gather(*list(twilio.conferences.tasks))
    return [p["CallStatus"] for url, p in posted if url.startswith("/twilio/conference-leg?")]


@pytest.mark.parametrize(
    ("profile", "final"),
    [(Profile(ring=(0.0, 0.01)), "completed"), (Profile(ring=(0.0, 0.01), leg_busy=1.0), "busy")],
)
def test_the_operators_leg_gets_only_its_final_status_callback(profile, final):
    assert gateway.LEG_STATUS_EVENTS == ["completed"]
    assert run_async(_leg_statuses(profile)) == [final]


def test_the_simulated_twilio_posts_every_leg_status_asked_for(monkeypatch):
    monkeypatch.setattr(gateway, "LEG_STATUS_EVENTS", ["initiated", "ringing", "answered", "completed"])
    statuses = run_async(_leg_statuses(Profile(ring=(0.0, 0.01))))
    assert statuses == ["initiated", "ringing", "answered", "completed"]
    monkeypatch.setattr(gateway, "LEG_STATUS_EVENTS", ["ringing", "completed"])
    assert run_async(_leg_statuses(Profile(ring=(0.0, 0.01), leg_no_answer=1.0))) == ["ringing", "no-answer"]


CONFERENCE_EVENTS = [
    "conference-start", "participant-join", "participant-mute", "announcement-end",
    "participant-unmute", "participant-hold", "participant-unhold", "participant-leave", "conference-end",
]  # fmt: skip


async def _conference_events(asked: str | None) -> list[str]:
    """The conference events the simulated Twilio posts for a room whose <Conference> asked for
    ``asked`` (None: the attribute left out)."""
    posted: list[str] = []

    async def record(url: str, params: dict[str, str]) -> str:
        posted.append(params["StatusCallbackEvent"])
        return ""

    kwargs = {"base_url": "https://localhost", "connect": "127.0.0.1:9", "auth_token": "x" * 32}
    async with Twilio(rng=random.Random(5), profile=Profile(), **kwargs) as twilio:
        twilio.post = record
        room = twilio.conferences.room("call-CA2")
        room.status_callback = "https://localhost/twilio/voice/conference?t=t_alpha&c=2"
        if asked is not None:
            room.events = frozenset(asked.split())
        for event in CONFERENCE_EVENTS:
            await twilio.conferences.event(room, event)
    return posted


def test_the_conference_posts_only_the_events_the_platform_acts_on():
    """Holds and mutes are the platform's own requests, recorded as it makes them, and the start is
    the operator's join: Twilio is not asked to post them (a webhook each, for nothing)."""
    assert run_async(_conference_events(twiml.CONFERENCE_EVENTS)) == [
        "participant-join", "announcement-end", "participant-leave", "conference-end",
    ]  # fmt: skip
    assert run_async(_conference_events(None)) == ["conference-start", "conference-end"]  # Twilio's default
    everything = "start end join leave hold mute announcement"
    assert run_async(_conference_events(everything)) == CONFERENCE_EVENTS


async def _placed_call_statuses(callee: Callee, events: list[str] | None) -> list[str]:
    """A call the platform places (``calls.create`` through the real ``twilio`` client, asking for
    ``events``; None: as ``gateway.place_call`` asks) to a simulated person: the call statuses
    posted to its status callback."""
    posted: list[str] = []

    async def record(url: str, params: dict[str, str]) -> str:
        if url.endswith("/twilio/status"):
            posted.append(params["CallStatus"])
        return "<Response><Hangup/></Response>"

    kwargs = {"base_url": "https://localhost", "connect": "127.0.0.1:9", "auth_token": "x" * 32}
    async with Twilio(rng=random.Random(5), profile=Profile(), callee=callee, **kwargs) as twilio:
        twilio.post = record
        with override_settings(TWILIO_API_BASE_URL=twilio.rest_url):
            gateway.client.cache_clear()
            try:
                if events is None:
                    await asyncio.to_thread(
                        gateway.place_call, to="+15550100", from_="+15550199", url="https://localhost/answer",
                        status_callback="https://localhost/twilio/status", timeout=20,
                    )  # fmt: skip
                else:
                    await asyncio.to_thread(
                        gateway.client().calls.create, to="+15550100", from_="+15550199",
                        url="https://localhost/answer", status_callback="https://localhost/twilio/status",
                        status_callback_event=events,
                    )  # fmt: skip
            finally:
                gateway.client.cache_clear()
        await twilio.outbound.drain()
    return posted


def test_the_simulated_twilio_posts_the_statuses_a_placed_call_asked_for():
    """As Twilio: ``initiated``, ``ringing``, ``answered`` (CallStatus in-progress) only when asked;
    the end under ``completed`` (busy, no-answer and the rest too); only the end when nothing is asked."""
    person, busy = Callee(ring=(0.0, 0.01)), Callee(default="busy", ring=(0.0, 0.01))
    assert run_async(_placed_call_statuses(person, None)) == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert run_async(_placed_call_statuses(busy, None)) == ["initiated", "ringing", "busy"]
    assert run_async(_placed_call_statuses(person, ["ringing", "completed"])) == ["ringing", "completed"]
    assert run_async(_placed_call_statuses(busy, [])) == ["busy"]
