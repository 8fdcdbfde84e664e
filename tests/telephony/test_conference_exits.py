"""A caller whose bridge failed waits in the call's conference, with music, back in line; past the
queue's maximum wait (or with nobody staffed any more) they are moved out by REST to the callback
or voicemail offer a caller leaving Twilio's queue gets, once (issue 16: no caller left in a
conference without an operator or a next step)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from telephony import tasks
from telephony.answering import accept_offer
from telephony.calls.models import Call, Callback
from telephony.models import Queue, Reservation, WaitingCall
from tests.telephony.calls_kit import incoming
from tests.telephony.conference_kit import (
    atomic_depths,
    caller_updates,
    conference_event,
    leg_event,
    main_queue,
    operator_legs,
    path_of,
    query,
    twilio_with_faults,
)
from tests.telephony.helpers import make_operator
from tests.twilio_kit import check_twiml, signed_post, verbs

# The caller moved from Twilio's queue into the conference on accept (``conftest``).
pytestmark = pytest.mark.usefixtures("caller_moved_on_accept", "bridges")


@pytest.fixture
def queue(db, tenants) -> Queue:
    return main_queue(tenants.alpha, max_wait=120)


def _bridge_fails(alpha_number, commit, http) -> str:
    """A call offered, accepted, the caller moved into the conference, the operator's leg no-answer."""
    with commit():
        _, params = incoming(alpha_number)
    sid = params["CallSid"]
    offer = Reservation.objects.get(call__call_sid=sid, state="offered")
    with commit():
        waiting = accept_offer(reservation_id=offer.pk, operator=offer.operator.user)
    with commit():
        tasks.bridge_call.apply(args=[waiting.pk])
    with commit():
        leg_event(operator_legs(http)[-1].data["StatusCallback"], "no-answer", "CA" + "7" * 32)
    assert len(caller_updates(http, sid)) == 1  # into the conference
    return sid


def _age(sid: str, seconds: float) -> None:
    WaitingCall.objects.filter(call_sid=sid).update(
        enqueued_at=WaitingCall.objects.get(call_sid=sid).enqueued_at - dt.timedelta(seconds=seconds)
    )


def _tick(commit) -> None:
    with commit():
        tasks.routing_tick.apply()


def _moved_out_offer(http, sid: str):
    (*_, update) = caller_updates(http, sid)
    offer = check_twiml(update.data["Twiml"])
    assert [el.tag for el in offer] == ["Gather", "Redirect"]  # what a caller leaving the queue gets
    action = offer.find("Gather").get("action")
    assert action.startswith(settings.TWILIO_WEBHOOK_BASE_URL or f"https://{settings.PLATFORM_HOST}")
    assert urlsplit(action).path == "/twilio/voice/leave-choice"  # absolute: REST-sent TwiML has no base
    return action


def test_past_the_max_wait_a_caller_in_the_conference_is_offered_a_callback_once(
    db, tenants, queue, alpha_number, commit, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    operator = make_operator({queue: 1})
    sid = _bridge_fails(alpha_number, commit, http)
    again = Reservation.objects.get(call__call_sid=sid, state="offered")  # offered again, ringing
    _tick(commit)
    assert len(caller_updates(http, sid)) == 1  # within the max wait: music, still in line
    _age(sid, queue.max_wait)
    _tick(commit)
    action = _moved_out_offer(http, sid)
    assert query(action)["t"] == tenants.alpha.schema_name  # the caller's company, signed in the URL
    waiting = WaitingCall.objects.get(call_sid=sid)
    assert waiting.state == WaitingCall.State.LEFT and waiting.outcome == "left"
    again.refresh_from_db()
    operator.refresh_from_db()
    assert again.state == "cancelled" and operator.state == "available"  # the ringing offer closed
    _tick(commit)
    assert len(caller_updates(http, sid)) == 2  # moved once, whatever the ticks
    response = signed_post(path_of(action), {"CallSid": sid, "To": alpha_number, "Digits": "1"})
    assert verbs(response.content) == ["Say", "Hangup"]
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=sid)
        assert call.outcome == Call.Outcome.CALLBACK_REQUESTED
        assert Callback.objects.get(call=call).reason == Callback.Reason.REQUESTED
        (event,) = call.events.filter(kind="conference_exit")
        assert event.data["reason"] == "max wait" and event.data["waited"] >= queue.max_wait


def test_with_nobody_staffed_any_more_the_caller_leaves_the_conference_at_once(
    db, tenants, queue, alpha_number, commit, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    operator = make_operator({queue: 1})
    with override_settings(ROUTING_MISSES_BEFORE_AWAY=1):
        sid = _bridge_fails(alpha_number, commit, http)
    operator.refresh_from_db()
    assert operator.state == "break"  # the only operator: nobody staffed now
    _tick(commit)
    _moved_out_offer(http, sid)
    assert WaitingCall.objects.get(call_sid=sid).state == WaitingCall.State.LEFT


def test_twilio_unavailable_keeps_the_caller_marked_out_of_line_and_the_next_tick_moves_them(
    db, tenants, queue, alpha_number, commit, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    make_operator({queue: 1}, state="wrap_up")  # staffed (nobody staffed: a callback at once), not free
    with commit():
        _, params = incoming(alpha_number)
    sid = params["CallSid"]
    _tick(commit)
    assert caller_updates(http, sid) == []  # in Twilio's queue: its wait URL times the caller out, not REST
    make_operator({queue: 1})
    with commit():
        tasks.match_queues.apply(args=[[queue.pk]])
    http.plan.script.clear()
    sid = _bridge_to_failure_of(sid, commit, http)
    _age(sid, queue.max_wait)
    http.plan.script.extend(["503"])
    _tick(commit)
    waiting = WaitingCall.objects.get(call_sid=sid)  # out of line (no operator is offered it), marked
    assert (waiting.state, waiting.outcome) == ("left", "exiting: max wait")
    with tenant_context(tenants.alpha):
        assert not Call.objects.get(call_sid=sid).events.filter(kind="conference_exit").exists()
    _tick(commit)
    _moved_out_offer(http, sid)
    waiting = WaitingCall.objects.get(call_sid=sid)
    assert (waiting.state, waiting.outcome) == ("left", "left")
    with tenant_context(tenants.alpha):
        (event,) = Call.objects.get(call_sid=sid).events.filter(kind="conference_exit")
        assert event.data["reason"] == "max wait"


def test_twilio_is_asked_to_move_the_caller_out_with_no_row_locked(
    db, tenants, queue, alpha_number, commit, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    make_operator({queue: 1})
    sid = _bridge_fails(alpha_number, commit, http)
    _age(sid, queue.max_wait)
    depths = atomic_depths(http)
    _tick(commit)
    _moved_out_offer(http, sid)
    assert depths == [len(connection.atomic_blocks)]  # sent outside the tick's transactions


def test_a_caller_who_hangs_up_while_twilio_does_not_answer_is_not_moved_again(
    db, tenants, queue, alpha_number, commit, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    make_operator({queue: 1})
    sid = _bridge_fails(alpha_number, commit, http)
    _age(sid, queue.max_wait)
    http.plan.script.extend(["timeout"])
    _tick(commit)
    with tenant_context(tenants.alpha):
        Call.objects.filter(call_sid=sid).update(
            ended_at=timezone.now(), outcome=Call.Outcome.ABANDONED, outcome_at=timezone.now()
        )  # hung up
    sent = len(http.sent)
    _tick(commit)
    assert len(http.sent) == sent
    assert WaitingCall.objects.get(call_sid=sid).outcome == "abandoned"


def test_a_caller_moved_out_whose_answer_was_lost_is_not_redirected_again(
    db, tenants, queue, alpha_number, commit, twilio_mock, monkeypatch
):
    """Twilio redirected the caller but its answer was lost: once the caller has left the
    conference, the next tick records the move instead of redirecting them again (they may be
    choosing a callback or leaving a message by then)."""
    http = twilio_with_faults(monkeypatch, twilio_mock)
    make_operator({queue: 1})
    sid = _bridge_fails(alpha_number, commit, http)
    conference = check_twiml(caller_updates(http, sid)[0].data["Twiml"]).find("Dial/Conference")
    _age(sid, queue.max_wait)
    http.plan.script.extend(["lost"])
    _tick(commit)
    assert WaitingCall.objects.get(call_sid=sid).outcome == "exiting: max wait"
    with commit():
        response = conference_event(  # the caller alone left: the conference ends
            conference.get("statusCallback"), "conference-end",
            CallSidEndingConference=sid, ReasonConferenceEnded="last-participant-left",
        )  # fmt: skip
    assert response.status_code == 204
    sent = len(http.sent)
    _tick(commit)
    assert len(http.sent) == sent  # not redirected again
    waiting = WaitingCall.objects.get(call_sid=sid)
    assert (waiting.state, waiting.outcome) == ("left", "left")
    with tenant_context(tenants.alpha):
        (event,) = Call.objects.get(call_sid=sid).events.filter(kind="conference_exit")
        assert event.data["reason"] == "max wait"


def _bridge_to_failure_of(sid: str, commit, http) -> str:
    offer = Reservation.objects.get(call__call_sid=sid, state="offered")
    with commit():
        waiting = accept_offer(reservation_id=offer.pk, operator=offer.operator.user)
    with commit():
        tasks.bridge_call.apply(args=[waiting.pk])
    with commit():
        leg_event(operator_legs(http)[-1].data["StatusCallback"], "no-answer", "CA" + "6" * 32)
    return sid


@pytest.mark.parametrize("fault", ["404", "refused"])
def test_a_caller_gone_is_abandoned_and_a_refusal_is_kept_in_line_and_not_retried(
    db, tenants, queue, alpha_number, commit, twilio_mock, monkeypatch, fault
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    make_operator({queue: 1})
    sid = _bridge_fails(alpha_number, commit, http)
    _age(sid, queue.max_wait)
    http.plan.script.extend([fault])
    _tick(commit)
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=sid)
    if fault == "404":
        assert call.outcome == Call.Outcome.ABANDONED
        assert WaitingCall.objects.get(call_sid=sid).state == WaitingCall.State.LEFT
    else:
        assert call.outcome == ""
        assert WaitingCall.objects.get(call_sid=sid).state in {"waiting", "reserved"}
        sent = len(http.sent)
        _tick(commit)
        assert len(http.sent) == sent  # logged with Twilio's code once, not retried every tick
