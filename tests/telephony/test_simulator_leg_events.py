"""Issue 23: the operator's leg (a call to their browser phone that hears the announcement, then
joins the conference) asks Twilio only for its final status callback
(``gateway.LEG_STATUS_EVENTS``: "completed", which carries busy, no-answer, failed and canceled too),
and the simulated Twilio honours the ``StatusCallbackEvent``s asked for, as Twilio does."""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest
from django.test import override_settings
from django.utils import timezone

from telephony import gateway, twiml
from telephony.simulator.outbound_side import Callee
from telephony.simulator.twilio_side import Profile, Twilio
from tests.conftest import run_async

LEG_CALLBACK = "https://localhost/twilio/conference-leg?t=t_alpha&c=1&r=7"


def _operator_leg_twiml() -> str:
    return str(
        twiml.operator_leg(
            name="call-CA1", label="operator-7", announcement="Alpha, Main", voice=twiml.Voice(),
            status_callback="https://localhost/twilio/conference?t=t_alpha&c=1", recording_callback=None,
        )
    )  # fmt: skip


@contextlib.asynccontextmanager
async def _simulated(profile: Profile, callee: Callee | None = None, answer: str = ""):
    """A simulated Twilio the platform's ``twilio`` client talks to: ``(twilio, posted)``, where
    ``posted`` is what Twilio would post to the platform ``(path, params)``, each answered with
    ``answer``. On the way out its calls and conferences play to their end."""
    posted: list[tuple[str, dict[str, str]]] = []

    async def record(url: str, params: dict[str, str]) -> str:
        posted.append((url, params))
        return answer

    kwargs = {"base_url": "https://localhost", "connect": "127.0.0.1:9", "auth_token": "x" * 32}
    async with Twilio(rng=random.Random(5), profile=profile, callee=callee, **kwargs) as twilio:
        twilio.post = record
        with override_settings(TWILIO_API_BASE_URL=twilio.rest_url):
            gateway.client.cache_clear()
            try:
                yield twilio, posted
            finally:
                gateway.client.cache_clear()
        await twilio.outbound.drain()
        while twilio.conferences.tasks:
            await asyncio.gather(*list(twilio.conferences.tasks))


async def _ring() -> str:
    """``gateway.ring_client`` to operator 1's phone with operator 7's leg: its CallSid."""
    answer, leg = await asyncio.to_thread(
        gateway.ring_client, identity="operator-1", twiml_text=_operator_leg_twiml(),
        status_callback=LEG_CALLBACK, timeout=20,
    )  # fmt: skip
    assert answer is gateway.Answer.DONE and leg
    return leg


async def _ring_operator(profile: Profile) -> tuple[list[tuple[str, dict[str, str]]], Twilio, str, str]:
    """The operator's leg placed through the real ``twilio`` client into a simulated conference
    whose caller is in and which ends at once: what was posted to the platform, the simulated
    Twilio, the leg's CallSid, and the call ``gateway.created_call`` finds placed to the operator's
    phone since just before."""
    async with _simulated(profile) as (twilio, posted):
        room = twilio.conferences.room("call-CA1")
        room.caller_in.set()
        room.ended.set()
        since = timezone.now()
        leg = await _ring()
        found = await asyncio.to_thread(
            gateway.created_call, to="client:operator-1", from_="client:operator-1", since=since
        )
    return posted, twilio, leg, found


async def _leg_statuses(profile: Profile) -> list[str]:
    """The call statuses posted to the operator's leg's callback."""
    posted, *_ = await _ring_operator(profile)
    return [p["CallStatus"] for url, p in posted if url.startswith("/twilio/conference-leg?")]


def test_the_operator_hears_whose_call_it_is_alone_then_joins_and_the_leg_can_be_found_by_its_phone():
    """R19 on the operator's own leg: the announcement is said before the join (the caller, in the
    conference, hears nothing of it), the join carries the attempt's label, and a create whose
    answer was lost is found by the operator's phone (``conferences``: never two legs ringing)."""
    posted, twilio, leg, found = run_async(_ring_operator(Profile(ring=(0.0, 0.01))))
    assert twilio.conferences.rooms["call-CA1"].announcements == ["Alpha, Main"]
    joins = [p for url, p in posted if p.get("StatusCallbackEvent") == "participant-join"]
    assert [(p["CallSid"], p["ParticipantLabel"]) for p in joins] == [(leg, "operator-7")]
    assert found == leg


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
        "participant-join", "conference-end",
    ]  # fmt: skip
    assert run_async(_conference_events(None)) == ["conference-start", "conference-end"]  # Twilio's default
    everything = "start end join leave hold mute announcement"
    assert run_async(_conference_events(everything)) == CONFERENCE_EVENTS


async def _placed_call_statuses(callee: Callee, events: list[str] | None) -> list[str]:
    """A call the platform places (``calls.create`` through the real ``twilio`` client, asking for
    ``events``; None: as ``gateway.place_call`` asks) to a simulated person: the call statuses
    posted to its status callback."""
    async with _simulated(Profile(), callee, answer="<Response><Hangup/></Response>") as (_, posted):
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
    return [params["CallStatus"] for url, params in posted if url.endswith("/twilio/status")]


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


async def _join_after_the_caller_left() -> tuple[list[dict[str, str]], str, str, bool]:
    """The caller's conference ended while the operator heard the announcement: what the simulated
    Twilio posts as the operator joins and the platform hangs their leg up, the first conference's
    SID and the leg's, and whether the hang-up was taken."""
    async with _simulated(Profile(ring=(0.0, 0.01))) as (twilio, posted):
        room = twilio.conferences.room("call-CA1")
        room.caller_in.set()
        room.over = True
        room.ended.set()
        leg = await _ring()
        while not any(p.get("StatusCallbackEvent") == "participant-join" for _, p in posted):
            await asyncio.sleep(0.01)
        hung_up = await asyncio.to_thread(gateway.hang_up, call_sid=leg)
    return [params for _, params in posted], room.sid, leg, hung_up


def test_an_operator_joining_after_the_conference_ended_opens_a_new_one_until_hung_up():
    """As Twilio: a name whose conference ended opens anew on the next join (a new SID), with the
    operator's noun's callbacks; hanging the leg up ends it, and the leg's final status follows."""
    posted, first_sid, leg, hung_up = run_async(_join_after_the_caller_left())
    assert hung_up
    events = [(p.get("StatusCallbackEvent") or p.get("CallStatus"), p.get("ConferenceSid")) for p in posted]
    (join_sid,) = [sid for event, sid in events if event == "participant-join"]
    assert join_sid and join_sid != first_sid
    assert [event for event, _ in events] == ["participant-join", "conference-end", "completed"]
    assert {sid for event, sid in events if event != "completed"} == {join_sid}
    end = next(p for p in posted if p.get("StatusCallbackEvent") == "conference-end")
    assert end["CallSidEndingConference"] == leg


async def _hung_up_while_ringing() -> list[dict[str, str]]:
    """What the simulated Twilio posts for an operator's leg the platform hangs up as it rings."""
    async with _simulated(Profile(ring=(0.3, 0.3))) as (twilio, posted):
        twilio.conferences.room("call-CA1").caller_in.set()
        leg = await _ring()
        assert await asyncio.to_thread(gateway.hang_up, call_sid=leg)
    return [params for _, params in posted]


def test_an_operators_leg_hung_up_while_it_rings_is_canceled_and_never_joins():
    posted = run_async(_hung_up_while_ringing())
    assert [p.get("CallStatus") or p.get("StatusCallbackEvent") for p in posted] == ["canceled"]
