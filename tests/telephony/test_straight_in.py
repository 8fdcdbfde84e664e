"""A call offered to an operator as it comes in waits for them in its conference, not in Twilio's
queue (``CALLS_STRAIGHT_INTO_CONFERENCE``, ``flows.to_queue``): no wait URL nor queue result, and
the bridge only rings the operator. A missed, declined or withdrawn offer leaves the caller in the
conference back in line, served by the next operator or moved out at the queue's maximum wait."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context

from telephony import routing, tasks
from telephony.answering import accept_offer
from telephony.calls.models import Call, CallEvent, TelephonySettings
from telephony.models import Queue, Reservation, WaitingCall
from tests.telephony.calls_kit import incoming
from tests.telephony.conference_kit import (
    caller_updates,
    conference_event,
    leg_label,
    main_queue,
    operator_legs,
    query,
    twilio_with_faults,
)
from tests.telephony.helpers import make_operator
from tests.twilio_kit import check_twiml, signed_post, verbs

# The bridge task run by each test itself (``conftest.bridges``).
pytestmark = pytest.mark.usefixtures("bridges")


@pytest.fixture
def queue(db, tenants) -> Queue:
    return main_queue(tenants.alpha, max_wait=120)


def _conference(response) -> object:
    """The conference the first webhook's answer puts the caller in."""
    assert verbs(response.content)[-2:] == ["Dial", "Hangup"]  # never Twilio's queue
    return check_twiml(response.content).find("Dial/Conference")


def _offered_as_it_comes_in(alpha_number: str, queue: Queue, commit):
    """An operator free, a call comes in: (the operator, its CallSid, the conference it waits in)."""
    operator = make_operator({queue: 1})
    with commit():
        response, params = incoming(alpha_number)
    return operator, params["CallSid"], _conference(response)


def _events(tenants, sid: str) -> list[str]:
    with tenant_context(tenants.alpha):
        return list(
            CallEvent.objects.filter(call__call_sid=sid).order_by("id").values_list("kind", flat=True)
        )


def test_a_call_offered_as_it_comes_in_waits_in_its_conference_and_the_bridge_only_rings_the_operator(
    db, tenants, queue, alpha_number, commit, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    operator, sid, conference = _offered_as_it_comes_in(alpha_number, queue, commit)
    assert conference.text == f"call-{sid}" and conference.get("participantLabel") == "caller"
    assert conference.get("startConferenceOnEnter") == "false"  # hold music until the operator joins
    assert conference.get("endConferenceOnExit") == "true"
    with tenant_context(tenants.alpha):
        assert conference.get("waitUrl") == TelephonySettings.current().hold_music_url
    assert set(conference.get("statusCallbackEvent").split()) == {"end", "join"}
    assert query(conference.get("statusCallback"))["t"] == tenants.alpha.schema_name
    offer = Reservation.objects.get(call__call_sid=sid, state="offered", operator=operator)
    assert "conference" in _events(tenants, sid)
    # Twilio's retry of the same webhook gets the same answer (nothing queued twice, no new offer).
    with commit():
        again, _ = incoming(alpha_number, sid=sid)
    assert check_twiml(again.content).find("Dial/Conference").text == f"call-{sid}"
    assert Reservation.objects.filter(call__call_sid=sid).count() == 1

    with commit():
        waiting = accept_offer(reservation_id=offer.pk, operator=operator.user)
    with commit():
        tasks.bridge_call.apply(args=[waiting.pk])
    assert caller_updates(http, sid) == []  # nobody to move: the caller is in the conference already
    (leg,) = operator_legs(http)
    assert check_twiml(leg.data["Twiml"]).find("Dial/Conference").text == f"call-{sid}"
    assert leg_label(leg) == f"operator-{offer.pk}"
    with commit():
        conference_event(conference.get("statusCallback"), "participant-join", ParticipantLabel="caller",
                         CallSid=sid)  # fmt: skip
        conference_event(conference.get("statusCallback"), "participant-join",
                         ParticipantLabel=leg_label(leg), CallSid="CA" + "b" * 32)  # fmt: skip
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=sid)
    assert call.answered_at is not None and call.operator_id == operator.user_id
    assert call.wait_seconds is not None
    kinds = _events(tenants, sid)
    assert "bridged" in kinds and "queue_result" not in kinds  # no Twilio queue was ever asked


def test_a_call_nobody_is_free_for_waits_in_twilios_queue_and_is_moved_in_on_accept(
    db, tenants, queue, alpha_number, commit, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    operator = make_operator({queue: 1}, state="wrap_up")  # staffed, not free
    with commit():
        response, params = incoming(alpha_number)
    sid = params["CallSid"]
    assert verbs(response.content)[-1] == "Enqueue"  # its place announced by the wait URL
    with commit():
        routing.operator_set_state(operator=operator.user, state="available")
    offer = Reservation.objects.get(call__call_sid=sid, state="offered")
    with commit():
        waiting = accept_offer(reservation_id=offer.pk, operator=operator.user)
    with commit():
        tasks.bridge_call.apply(args=[waiting.pk])
    (update,) = caller_updates(http, sid)  # out of Twilio's queue into the conference
    assert check_twiml(update.data["Twiml"]).find("Dial/Conference").text == f"call-{sid}"


@override_settings(CALLS_STRAIGHT_INTO_CONFERENCE=False)
def test_turned_off_every_caller_waits_in_twilios_queue(db, tenants, queue, alpha_number, commit):
    make_operator({queue: 1})
    with commit():
        response, params = incoming(alpha_number)
    assert verbs(response.content)[-1] == "Enqueue"
    assert Reservation.objects.filter(call__call_sid=params["CallSid"], state="offered").exists()
    assert "conference" not in _events(tenants, params["CallSid"])


def test_a_declined_offer_leaves_the_caller_in_the_conference_in_line_until_the_max_wait(
    db, tenants, queue, alpha_number, commit, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    operator, sid, _ = _offered_as_it_comes_in(alpha_number, queue, commit)
    offer = Reservation.objects.get(call__call_sid=sid, state="offered")
    make_operator({queue: 1}, state="wrap_up")  # staffed, not free: the call waits for them
    with commit():
        routing.reject(reservation_id=offer.pk, operator=operator.user)
    # Nobody else free: offered to them again, who go on a break (the offer withdrawn).
    with commit():
        routing.operator_set_state(operator=operator.user, state="break", reason="Lunch")
    assert set(Reservation.objects.filter(call__call_sid=sid).values_list("state", flat=True)) == {
        Reservation.State.REJECTED,
        Reservation.State.CANCELLED,
    }
    waiting = WaitingCall.objects.get(call_sid=sid)
    assert waiting.state == WaitingCall.State.WAITING  # back in line, place kept
    with commit():
        tasks.routing_tick.apply()
    assert caller_updates(http, sid) == []  # within the max wait: music, in line
    WaitingCall.objects.filter(pk=waiting.pk).update(
        enqueued_at=waiting.enqueued_at - dt.timedelta(seconds=queue.max_wait)
    )
    with commit():
        tasks.routing_tick.apply()
    (update,) = caller_updates(http, sid)  # moved out: the callback or voicemail offer
    assert [el.tag for el in check_twiml(update.data["Twiml"])] == ["Gather", "Redirect"]
    assert WaitingCall.objects.get(pk=waiting.pk).state == WaitingCall.State.LEFT


def test_a_caller_who_hangs_up_while_offered_is_abandoned_and_the_operator_freed(
    db, tenants, queue, alpha_number, commit
):
    operator, sid, conference = _offered_as_it_comes_in(alpha_number, queue, commit)
    with commit():
        status = {"CallSid": sid, "To": alpha_number, "CallStatus": "completed", "CallDuration": "4"}
        assert signed_post("/twilio/voice/status", status).status_code == 204
        conference_event(conference.get("statusCallback"), "conference-end", CallSid=sid)
    with tenant_context(tenants.alpha):
        assert Call.objects.get(call_sid=sid).outcome == Call.Outcome.ABANDONED
    assert Reservation.objects.get(call__call_sid=sid).state == Reservation.State.CANCELLED
    operator.refresh_from_db()
    assert operator.state == "available"
    assert WaitingCall.objects.get(call_sid=sid).state == WaitingCall.State.LEFT
