"""Every answered call is a conference: the caller moved in on accept, the operator's leg a call to
their browser phone that joins it, the call answered when that leg joins; a leg that does not join
sends the call back in line (another operator first); Twilio's REST failures retried or served."""

from __future__ import annotations

from unittest.mock import patch

import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context

from scripts_engine.models import Specialist
from telephony import conferences, gateway, routing, tasks
from telephony.answering import accept_offer
from telephony.calls.models import Call, TelephonySettings, WebhookEvidence
from telephony.calls.records import add_event
from telephony.models import OperatorProfile, Queue, Reservation, WaitingCall
from telephony.operators import InvalidTransition
from telephony.simulator.rest_faults import Sent
from tests.conftest import logged_in
from tests.telephony.calls_kit import incoming
from tests.telephony.conference_kit import (
    CONFERENCE_SID,
    conference_event,
    leg_event,
    leg_label,
    operator_legs,
    path_of,
    query,
    twilio_with_faults,
)
from tests.telephony.helpers import make_operator
from tests.twilio_kit import check_twiml, signed_post

# The caller moved from Twilio's queue into the conference on accept (``conftest``).
pytestmark = pytest.mark.usefixtures("caller_moved_on_accept")


@pytest.fixture
def queue(db, tenants) -> Queue:
    queue, _ = Queue.objects.get_or_create(tenant=tenants.alpha, is_default=True, defaults={"name": "Main"})
    return queue


def _call_offered(alpha_number, commit) -> tuple[str, Reservation]:
    with commit():
        _, params = incoming(alpha_number)
    offer = Reservation.objects.get(call__call_sid=params["CallSid"], state="offered")
    return params["CallSid"], offer


def _accept(offer: Reservation, commit) -> WaitingCall:
    with commit():
        return accept_offer(reservation_id=offer.pk, operator=offer.operator.user)


def _bridge(waiting_id: int, commit) -> None:
    with commit():
        tasks.bridge_call.apply(args=[waiting_id])


def _sent(http, kind: str) -> list[Sent]:
    if kind == "leg":  # an operator's leg: a call created to their browser phone
        return operator_legs(http)
    suffix = {"call": "/Calls/", "participant": "/Participants.json", "conference": "/Conferences/"}[kind]
    return [s for s in http.sent if suffix in s.url and not s.fault]


def _participant(http) -> Sent:
    return _sent(http, "participant")[-1]


def _leg(http) -> Sent:
    return _sent(http, "leg")[-1]


def _ringing(alpha_number, queue, commit) -> tuple[OperatorProfile, str, Reservation]:
    """An operator offered a call, who accepts it; its bridge run: (the operator, the caller's
    CallSid, the offer)."""
    operator = make_operator({queue: 1})
    sid, offer = _call_offered(alpha_number, commit)
    _bridge(_accept(offer, commit).pk, commit)
    return operator, sid, offer


def _call(tenants, sid: str) -> Call:
    with tenant_context(tenants.alpha):
        return Call.objects.get(call_sid=sid)


def test_accept_moves_the_caller_into_the_calls_conference_and_rings_the_operator_into_it(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    operator = make_operator({queue: 1})
    sid, offer = _call_offered(alpha_number, commit)
    waiting = _accept(offer, commit)
    _bridge(waiting.pk, commit)
    (update,) = _sent(http, "call")
    assert update.url.endswith(f"/Calls/{sid}.json")  # Prism validated the request against Twilio's spec
    conference = check_twiml(update.data["Twiml"]).find("Dial/Conference")
    assert conference.text == f"call-{sid}"
    assert conference.get("startConferenceOnEnter") == "false"
    assert conference.get("endConferenceOnExit") == "true"
    with tenant_context(tenants.alpha):
        assert conference.get("waitUrl") == TelephonySettings.current().hold_music_url
    asked = set(conference.get("statusCallbackEvent").split())
    assert asked == {"end", "join"}  # the start is the operator's join; a leg's end, its own callback
    assert query(conference.get("statusCallback"))["t"] == tenants.alpha.schema_name
    added = _leg(http)
    assert added.data["To"] == added.data["From"] == f"client:operator-{operator.user_id}"
    joins = check_twiml(added.data["Twiml"]).find("Dial/Conference")
    assert joins.text == f"call-{sid}" and leg_label(added) == f"operator-{offer.pk}"
    assert str(added.data["Timeout"]) == str(queue.ring_timeout)
    assert added.data["StatusCallbackEvent"] == ["completed"]  # the final status only (issue 23)
    assert query(added.data["StatusCallback"])["r"] == str(offer.pk)
    call = _call(tenants, sid)
    assert call.answered_at is None  # ringing, not answered
    assert WaitingCall.objects.get(pk=waiting.pk).state == WaitingCall.State.BRIDGED


def test_the_call_is_answered_when_the_operator_joins_once_whatever_the_replays(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    operator = make_operator({queue: 1})
    sid, offer = _call_offered(alpha_number, commit)
    waiting = _accept(offer, commit)
    _bridge(waiting.pk, commit)
    conference = check_twiml(_sent(http, "call")[0].data["Twiml"]).find("Dial/Conference")
    caller_join = conference_event(conference.get("statusCallback"), "participant-join", CallSid=sid,
                                   ParticipantLabel="caller")  # fmt: skip
    assert caller_join.status_code == 204
    assert _call(tenants, sid).answered_at is None  # the caller alone does not answer it
    for _ in range(2):  # Twilio retries a callback: one answer
        label = f"operator-{offer.pk}"
        joined = conference_event(
            conference.get("statusCallback"),
            "participant-join",
            CallSid="CA" + "7" * 32,
            ParticipantLabel=label,
        )
        assert joined.status_code == 204
    call = _call(tenants, sid)
    offer.refresh_from_db()
    assert call.answered_at is not None and call.answered_at > offer.closed_at
    assert call.operator_id == operator.user_id and call.wait_seconds is not None
    with tenant_context(tenants.alpha):
        (bridged,) = call.events.filter(kind="bridged")
        assert bridged.data["answer_seconds"] >= 0  # accept → operator joined
        assert conferences.conference_sid(call) == CONFERENCE_SID  # from the first callback's event
    assert WaitingCall.objects.get(pk=waiting.pk).answered_at == call.answered_at


def test_calls_set_up_muted_by_the_version_before_are_put_through_as_their_parties_join(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    """Calls being connected while this version is deployed were set up by the one before: the
    caller and the operator's participant muted until an announcement no longer asked for. A join
    Twilio says is muted (no join of this version is) unmutes that party, and the caller with the
    operator, by a task that retries; that version's own queued tasks do the same."""
    released: list[tuple] = []
    monkeypatch.setattr("telephony.tasks.release_caller.delay", lambda *args: released.append(args))
    http = twilio_with_faults(monkeypatch, twilio_mock)
    _, sid, offer = _ringing(alpha_number, queue, commit)
    callback = check_twiml(_sent(http, "call")[0].data["Twiml"]).find("Dial/Conference").get("statusCallback")
    label = f"operator-{offer.pk}"
    with commit():
        conference_event(callback, "participant-join", CallSid=sid, ParticipantLabel="caller", Muted="true")
        conference_event(callback, "participant-join", CallSid="CA" + "7" * 32, ParticipantLabel=label,
                         Muted="true")  # fmt: skip
    call = _call(tenants, sid)
    assert released == [(call.pk, None, "joined muted (earlier version)"),
                        (call.pk, offer.pk, "joined muted (earlier version)")]  # fmt: skip
    assert call.answered_at is not None
    http.plan.script = ["503"]  # retried
    for args in released:
        with tenant_context(tenants.alpha):
            tasks.release_caller.apply(args=list(args))
    unmuted = [s for s in http.sent if "/Participants/" in s.url and not s.fault]
    assert [(s.url.rsplit("/", 1)[-1], s.data) for s in unmuted] == [
        (f"{sid}.json", {"Muted": "false"}),
        (f"{sid}.json", {"Muted": "false"}),
        (f"{label}.json", {"Muted": "false"}),
    ]
    assert all(f"/Conferences/{CONFERENCE_SID}/" in s.url for s in unmuted)
    with tenant_context(tenants.alpha):  # the version before queued these under the same names
        tasks.announce_to_operator.apply(args=[call.pk, offer.pk])
    assert released[-1] == (call.pk, offer.pk, "announcement no longer asked for")
    with commit():  # a join of this version: nobody to unmute
        conference_event(callback, "participant-join", CallSid="CA" + "8" * 32, ParticipantLabel=label)
    assert len(released) == 3


def test_putting_a_call_through_runs_in_its_own_company_only(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    """The task reads the call by its id in the schema it runs in: another company's reaches nothing."""
    http = twilio_with_faults(monkeypatch, twilio_mock)
    sid, offer, _ = _connected(tenants, alpha_number, queue, commit, http)
    call = _call(tenants, sid)
    sent = len(http.sent)
    with tenant_context(tenants.beta):
        assert tasks.release_caller.apply(args=[call.pk, offer.pk, "elsewhere"]).get() is False
    assert len(http.sent) == sent
    with tenant_context(tenants.alpha):
        assert tasks.release_caller.apply(args=[call.pk, offer.pk, "here"]).get() is True
        assert call.events.get(kind="released").data["reason"] == "here"


def test_the_conference_sid_is_the_one_of_the_calls_callbacks_also_for_calls_recorded_before(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    sid, _, callback = _bridged(alpha_number, queue, commit, twilio_with_faults(monkeypatch, twilio_mock))
    call = _call(tenants, sid)

    def known() -> str:
        with tenant_context(tenants.alpha):
            return conferences.conference_sid(call)

    assert known() == ""  # no callback yet
    conference_event(callback, "conference-start", ConferenceSid="")  # a callback without one
    assert known() == ""
    conference_event(callback, "participant-join", CallSid=sid, ParticipantLabel="caller")
    assert known() == CONFERENCE_SID
    with tenant_context(tenants.alpha):
        assert not call.events.filter(kind="conference_sid").exists()  # kept on the callback's event
        # A call recorded before 2026-12-05 kept it in an event of its own.
        call.events.filter(kind__startswith="conference:").delete()
        add_event(call, "conference_sid", dedupe="conference_sid:CF1", sid="CF" + "1" * 32)
    assert known() == "CF" + "1" * 32


@pytest.mark.parametrize("how", ["no-answer", "busy", "failed"])
def test_an_operator_leg_that_does_not_join_sends_the_call_back_in_line_to_another_operator(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch, how
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    first = make_operator({queue: 1}, idle=0)
    sid, offer = _call_offered(alpha_number, commit)
    assert offer.operator_id == first.pk
    second = make_operator({queue: 1}, idle=10)  # free now, idle for less time than the first
    waiting = _accept(offer, commit)
    before = WaitingCall.objects.get(pk=waiting.pk)
    _bridge(waiting.pk, commit)
    with commit():
        response = leg_event(_leg(http).data["StatusCallback"], how, "CA" + "7" * 32)
    assert response.status_code == 204
    after = WaitingCall.objects.get(pk=waiting.pk)
    assert (after.enqueued_at, after.priority) == (before.enqueued_at, before.priority)  # place kept
    again = Reservation.objects.get(call=after, state="offered")
    assert again.operator_id == second.pk  # another operator first, not the one who failed
    first.refresh_from_db()
    assert first.state == "available" and first.missed_offers == 1
    call = _call(tenants, sid)
    assert call.answered_at is None and call.operator_id is None and call.outcome == ""
    with tenant_context(tenants.alpha):
        assert call.events.filter(kind="bridge_failed").count() == 1
    # The second operator takes it: the caller is already in the conference, only their leg is added.
    _bridge(_accept(again, commit).pk, commit)
    assert len(_sent(http, "call")) == 1 and len(_sent(http, "leg")) == 2
    assert leg_label(_leg(http)) == f"operator-{again.pk}"


def test_missed_bridges_set_the_operator_away_by_the_miss_rule(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    operator, sid, _ = _ringing(alpha_number, queue, commit)
    with override_settings(ROUTING_MISSES_BEFORE_AWAY=1), commit():
        leg_event(_leg(http).data["StatusCallback"], "no-answer", "CA" + "7" * 32)
    operator.refresh_from_db()
    assert operator.state == "break" and operator.break_reason == "missed offers"
    assert WaitingCall.objects.get(call_sid=sid).state == WaitingCall.State.WAITING


def test_a_leg_that_joins_after_its_attempt_failed_is_hung_up_and_answers_nothing(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    _, sid, offer = _ringing(alpha_number, queue, commit)
    leg = "CA" + "8" * 32
    with commit():
        leg_event(_leg(http).data["StatusCallback"], "no-answer", leg)
        status_callback = check_twiml(_sent(http, "call")[0].data["Twiml"]).find("Dial/Conference")
        conference_event(status_callback.get("statusCallback"), "participant-join", CallSid=leg,
                         ParticipantLabel=f"operator-{offer.pk}")  # fmt: skip
    assert _call(tenants, sid).answered_at is None
    kept, hung_up = http.sent[-2:]  # the caller waits there for the next operator: not cut off
    assert kept.url.endswith(f"/Conferences/{CONFERENCE_SID}/Participants/operator-{offer.pk}.json")
    assert kept.data == {"EndConferenceOnExit": "false"}
    assert hung_up.url.endswith(f"/Calls/{leg}.json") and hung_up.data == {"Status": "completed"}


def test_an_operator_joining_after_the_caller_left_during_the_announcement_is_hung_up_alone(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    """The caller hung up while the operator heard whose call it was: the operator's join opens a
    new, empty conference of the same name (Twilio's callbacks still reach the call). It answers
    nothing and their leg is hung up; the caller's hang-up is the call's outcome and frees them."""
    http = twilio_with_faults(monkeypatch, twilio_mock)
    operator, sid, offer = _ringing(alpha_number, queue, commit)
    callback = check_twiml(_sent(http, "call")[0].data["Twiml"]).find("Dial/Conference").get("statusCallback")
    leg = "CA" + "9" * 32
    with commit():
        conference_event(callback, "participant-join", CallSid=sid, ParticipantLabel="caller")
        conference_event(callback, "participant-leave", CallSid=sid, ParticipantLabel="caller",
                         ParticipantCallStatus="completed")  # fmt: skip
        conference_event(callback, "conference-end", CallSidEndingConference=sid)
        signed_post("/twilio/voice/status", {"CallSid": sid, "To": alpha_number, "CallStatus": "completed"})
    operator.refresh_from_db()
    assert operator.state != "on_call"  # free at once: not their miss
    with commit():
        conference_event(callback, "participant-join", CallSid=leg, ParticipantLabel=f"operator-{offer.pk}",
                         ConferenceSid="CF" + "d" * 32)  # fmt: skip
    call = _call(tenants, sid)
    assert call.outcome == Call.Outcome.ABANDONED and call.answered_at is None
    assert http.sent[-1].url.endswith(f"/Calls/{leg}.json") and http.sent[-1].data == {"Status": "completed"}
    assert not [s for s in http.sent if "/Participants/" in s.url]  # no conference left to keep alive


def test_a_caller_who_hangs_up_while_the_operators_phone_rings_has_that_leg_hung_up_once(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    """Else the operator's phone takes a call nobody is on (and rings busy to their next offer)."""
    http = twilio_with_faults(monkeypatch, twilio_mock)
    operator, sid, _ = _ringing(alpha_number, queue, commit)
    with tenant_context(tenants.alpha):
        leg = _call(tenants, sid).events.get(kind="leg").data["call_sid"]
    for _ in range(2):  # Twilio may post the caller's end twice
        with commit():
            signed_post(
                "/twilio/voice/status", {"CallSid": sid, "To": alpha_number, "CallStatus": "completed"}
            )
    hung_up = [s for s in http.sent if s.url.endswith(f"/Calls/{leg}.json")]
    assert [s.data for s in hung_up] == [{"Status": "completed"}]
    call = _call(tenants, sid)
    assert call.outcome == Call.Outcome.ABANDONED
    operator.refresh_from_db()
    assert operator.state != "on_call"


def _hung_up_at_the_callers_end(sid: str, alpha_number: str, commit, http) -> list:
    """The caller's final status callback; the hang-ups it sent Twilio."""
    with commit():
        signed_post("/twilio/voice/status", {"CallSid": sid, "To": alpha_number, "CallStatus": "completed"})
    return [s for s in http.sent if s.data.get("Status") == "completed"]


def test_a_call_whose_leg_already_ended_hangs_up_no_leg_at_its_end(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    _, sid, _ = _ringing(alpha_number, queue, commit)
    with commit():  # the leg rang out: the call went back in line, its operator freed
        leg_event(_leg(http).data["StatusCallback"], "no-answer", "CA" + "7" * 32)
    assert _hung_up_at_the_callers_end(sid, alpha_number, commit, http) == []
    assert _call(tenants, sid).outcome == Call.Outcome.ABANDONED


def test_an_answered_call_hangs_up_no_leg_at_its_end(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    sid, _, _ = _connected(tenants, alpha_number, queue, commit, http)
    assert _hung_up_at_the_callers_end(sid, alpha_number, commit, http) == []
    assert _call(tenants, sid).outcome == Call.Outcome.HANDLED


def test_twilio_429_5xx_and_timeouts_are_retried_until_the_bridge_is_made(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock, "429", "500", "timeout", "", "503")
    _, sid, _ = _ringing(alpha_number, queue, commit)
    assert [s.fault for s in http.sent] == ["429", "500", "timeout", "", "503", ""]
    assert len(_sent(http, "call")) == 1 and len(_sent(http, "leg")) == 1  # each step once
    assert WaitingCall.objects.get(call_sid=sid).state == WaitingCall.State.BRIDGED


def test_a_leg_whose_create_answer_was_lost_is_found_at_twilio_and_not_rung_twice(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    """A create Twilio did but whose answer never came back is ringing: the next try asks Twilio
    for the calls to the operator's phone since the first ask (a list it fails to serve is asked
    again) and takes that leg instead of ringing the operator twice."""
    http = twilio_with_faults(monkeypatch, twilio_mock, "", "lost", "500")
    operator, sid, _ = _ringing(alpha_number, queue, commit)
    phone = f"client:operator-{operator.user_id}"
    legs = [s for s in http.sent if s.url.endswith("/Calls.json")]
    assert [(s.method, s.fault) for s in legs] == [("POST", "lost"), ("GET", "500"), ("GET", "")]
    assert legs[2].params["To"] == legs[2].params["From"] == phone
    (placed,) = http.placed
    call = _call(tenants, sid)
    with tenant_context(tenants.alpha):
        assert call.events.filter(kind="leg_unanswered").count() == 1
        (leg,) = call.events.filter(kind="leg")
    assert leg.data["call_sid"] == placed["sid"] and leg.data["found"] is True
    assert WaitingCall.objects.get(call_sid=sid).state == WaitingCall.State.BRIDGED


def test_a_leg_whose_create_went_unanswered_and_was_not_placed_is_rung_once_looked_up(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    """No answer, and Twilio lists no such call (Prism's calls are years old): ring now."""
    http = twilio_with_faults(monkeypatch, twilio_mock, "", "timeout")
    _, sid, _ = _ringing(alpha_number, queue, commit)
    legs = [s for s in http.sent if s.url.endswith("/Calls.json")]
    assert [(s.method, s.fault) for s in legs] == [("POST", "timeout"), ("GET", ""), ("POST", "")]
    call = _call(tenants, sid)
    with tenant_context(tenants.alpha):
        (unanswered,) = call.events.filter(kind="leg_unanswered")
        (leg,) = call.events.filter(kind="leg")
    assert unanswered.at <= leg.at and "found" not in leg.data


def test_twilio_unavailable_through_every_retry_sends_the_call_back_in_line(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    twilio_with_faults(monkeypatch, twilio_mock, *["500"] * (tasks.BRIDGE_RETRIES + 1))
    operator, sid, _ = _ringing(alpha_number, queue, commit)
    assert WaitingCall.objects.get(call_sid=sid).state in {"waiting", "reserved"}
    operator.refresh_from_db()
    # Twilio's fault, not the operator's: no miss counted (three would set them away).
    assert operator.state in {"available", "reserved"} and operator.missed_offers == 0


@pytest.mark.parametrize("fault", ["404", "gone"])
def test_a_caller_gone_before_the_bridge_is_abandoned_and_the_operator_is_free(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch, fault
):
    twilio_with_faults(monkeypatch, twilio_mock, fault)
    operator, sid, _ = _ringing(alpha_number, queue, commit)
    assert _call(tenants, sid).outcome == Call.Outcome.ABANDONED
    assert WaitingCall.objects.get(call_sid=sid).state == WaitingCall.State.LEFT
    operator.refresh_from_db()
    assert operator.state == "available"


def test_another_4xx_is_logged_with_twilios_code_and_the_caller_is_still_served(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    twilio_with_faults(monkeypatch, twilio_mock, "", "refused")  # the caller moved, the leg refused
    make_operator({queue: 1})
    sid, offer = _call_offered(alpha_number, commit)
    with patch.object(gateway.log, "warning") as warning:
        _bridge(_accept(offer, commit).pk, commit)
    assert "21201" in str(warning.call_args)  # Twilio's error code, logged
    assert _call(tenants, sid).outcome == ""
    assert WaitingCall.objects.get(call_sid=sid).state in {"waiting", "reserved"}


def test_conference_callbacks_are_signed_and_stay_in_their_company(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    sid, offer, callback = _bridged(alpha_number, queue, commit, twilio_with_faults(monkeypatch, twilio_mock))
    params = {"StatusCallbackEvent": "participant-join", "ParticipantLabel": f"operator-{offer.pk}"}
    forged = signed_post(callback.split("localhost", 1)[1], params, signature="bad")
    assert forged.status_code == 403
    other = callback.replace(f"t={tenants.alpha.schema_name}", f"t={tenants.beta.schema_name}")
    elsewhere = conference_event(other, "participant-join", ParticipantLabel=f"operator-{offer.pk}")
    assert elsewhere.status_code == 204
    assert _call(tenants, sid).answered_at is None
    assert OperatorProfile.objects.get(pk=offer.operator_id).state == "on_call"
    conference_event(callback, "participant-join", ParticipantLabel=f"operator-{offer.pk}")
    with tenant_context(tenants.alpha):  # kept as evidence, like every webhook (issue 18)
        kept = WebhookEvidence.objects.filter(url__contains="/conference").values_list("params", flat=True)
        assert [p["StatusCallbackEvent"] for p in kept] == ["participant-join"]


def test_an_operator_who_logs_out_during_a_call_is_not_free_until_it_ends(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    twilio_with_faults(monkeypatch, twilio_mock)
    operator, sid, _ = _ringing(alpha_number, queue, commit)
    with commit():
        routing.operator_set_state(operator=operator.user, state="offline")  # logs out mid-call
    with pytest.raises(InvalidTransition, match="not over"), commit():
        routing.operator_set_state(operator=operator.user, state="available")
    make_operator({queue: 1}, state="wrap_up")  # the queue stays staffed (busy): the next caller waits
    with commit():
        incoming(alpha_number)  # another call: not offered to them
    assert not Reservation.objects.filter(operator=operator, state="offered").exists()
    with commit():
        signed_post("/twilio/voice/status", {"CallSid": sid, "To": alpha_number, "CallStatus": "completed"})
    with commit():
        routing.operator_set_state(operator=operator.user, state="available")
    assert Reservation.objects.filter(operator=operator, state="offered").count() == 1


def _bridged(alpha_number, queue, commit, http) -> tuple[str, Reservation, str]:
    """A call accepted and its operator's leg ringing into its conference: (caller sid, offer,
    conference status callback)."""
    _, sid, offer = _ringing(alpha_number, queue, commit)
    callback = check_twiml(_sent(http, "call")[0].data["Twiml"]).find("Dial/Conference").get("statusCallback")
    return sid, offer, callback


def _connected(tenants, alpha_number, queue, commit, http) -> tuple[str, Reservation, str]:
    """A call whose operator joined its conference: (caller sid, offer, conference status callback)."""
    sid, offer, callback = _bridged(alpha_number, queue, commit, http)
    with commit():
        label = f"operator-{offer.pk}"
        conference_event(callback, "participant-join", CallSid="CA" + "7" * 32, ParticipantLabel=label)
    return sid, offer, callback


def test_hold_is_the_callers_participant_on_hold_with_the_companys_music_and_unhold_rings_nobody(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    sid, offer, _ = _connected(tenants, alpha_number, queue, commit, http)
    console = logged_in(None, offer.operator.user)
    url = f"/console/calls/{offer.pk}/hold"
    assert console.post(url, {"on": True}, content_type="application/json").json() == {"on_hold": True}
    held = http.sent[-1]
    assert held.url.endswith(f"/Conferences/{CONFERENCE_SID}/Participants/{sid}.json")  # Prism-validated
    assert held.data["Hold"] == "true" and held.data["HoldUrl"]
    with tenant_context(tenants.alpha):
        assert held.data["HoldUrl"] == TelephonySettings.current().hold_music_url
    assert console.post(url, {"on": False}, content_type="application/json").json() == {"on_hold": False}
    assert http.sent[-1].data["Hold"] == "false"
    assert len(_sent(http, "leg")) == 1 and len(_sent(http, "call")) == 1  # nobody re-rung
    with tenant_context(tenants.alpha):
        assert _call(tenants, sid).events.filter(kind__in=["hold", "unhold"]).count() == 2


def test_mute_is_the_operators_participant_muted_and_failures_are_a_409_with_a_message(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    _, offer, _ = _connected(tenants, alpha_number, queue, commit, http)
    console = logged_in(None, offer.operator.user)
    url = f"/console/calls/{offer.pk}/mute"
    assert console.post(url, {"on": True}, content_type="application/json").json() == {"muted": True}
    assert http.sent[-1].url.endswith(f"/Participants/operator-{offer.pk}.json")
    assert http.sent[-1].data["Muted"] == "true"
    http.plan.script = ["404"]
    gone = console.post(url, {"on": False}, content_type="application/json")
    assert gone.status_code == 409 and "hung up" in gone.json()["error"]
    http.plan.script = ["503", "503"]
    busy = console.post(f"/console/calls/{offer.pk}/hold", {"on": True}, content_type="application/json")
    assert busy.status_code == 409 and "try again" in busy.json()["error"]
    other = logged_in(None, make_operator({queue: 1}).user)
    assert other.post(url, {"on": True}, content_type="application/json").status_code == 404


def test_a_company_that_bought_recording_gets_one_conference_recording_per_call(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    stored: list[int] = []
    monkeypatch.setattr("telephony.tasks.store_recording.delay", stored.append)
    with tenant_context(tenants.alpha):
        TelephonySettings.objects.update_or_create(pk=1, defaults={"record_calls": True})
    http = twilio_with_faults(monkeypatch, twilio_mock)
    sid, _, _ = _connected(tenants, alpha_number, queue, commit, http)
    conference = check_twiml(_sent(http, "call")[0].data["Twiml"]).find("Dial/Conference")
    assert conference.get("record") == "record-from-start"  # the conference starts at the operator's join
    recording = {
        "AccountSid": "AC" + "1" * 32, "ConferenceSid": CONFERENCE_SID, "RecordingSid": "RE" + "1" * 32,
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE" + "1" * 32,
        "RecordingStatus": "completed", "RecordingDuration": "42", "RecordingChannels": "1",
        "RecordingSource": "DialConference",
    }  # fmt: skip
    path = path_of(conference.get("recordingStatusCallback"))
    for _ in range(2):  # a replay stores nothing twice
        with commit():
            assert signed_post(path, recording).status_code == 204
    call = _call(tenants, sid)
    assert call.recording_sid == "RE" + "1" * 32 and call.recording_seconds == 42
    assert stored[0] == call.pk
    with tenant_context(tenants.alpha):
        assert call.events.filter(kind="recording").count() == 1
        TelephonySettings.objects.filter(pk=1).update(record_calls=False)
    # The operator of a later try joined after the caller had left: Twilio opened the name anew and
    # recorded that empty line. It is not the call's recording: deleted at Twilio, the call's kept.
    stores = len(stored)
    with commit():
        stray = {**recording, "ConferenceSid": "CF" + "e" * 32, "RecordingSid": "RE" + "2" * 32}
        assert signed_post(path, stray).status_code == 204
    assert _call(tenants, sid).recording_sid == "RE" + "1" * 32
    deleted = http.sent[-1]
    assert (deleted.method, deleted.url.rsplit("/", 1)[-1]) == ("DELETE", "RE" + "2" * 32 + ".json")
    with tenant_context(tenants.alpha):
        assert call.events.get(kind="stray_recording").data["conference"] == "CF" + "e" * 32
    assert len(stored) == stores  # nothing fetched


def _specialist(tenants) -> Specialist:
    with tenant_context(tenants.alpha):
        specialist, _ = Specialist.objects.get_or_create(
            key="billing", defaults={"name": "Billing desk", "phone": "+4930123456"}
        )
    return specialist


def test_a_blind_transfer_rings_the_specialist_in_and_the_operator_leaves_once_they_join(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    sid, offer, callback = _connected(tenants, alpha_number, queue, commit, http)
    specialist = _specialist(tenants)
    console = logged_in(None, offer.operator.user)
    url = f"/console/calls/{offer.pk}/transfer"
    started = console.post(url, {"specialist": "billing", "mode": "blind"}, content_type="application/json")
    assert started.status_code == 200, started.content
    rung = _participant(http)
    assert rung.data["To"] == specialist.phone and rung.data["From"] == alpha_number
    assert rung.data["Label"] == f"specialist-{offer.pk}"
    kept = [s for s in http.sent if s.url.endswith(f"/Participants/operator-{offer.pk}.json")]
    assert kept[-1].data["EndConferenceOnExit"] == "false"  # the operator's leaving must not end it
    assert _call(tenants, sid).outcome == ""  # not yet: the specialist is ringing
    with commit():
        label = f"specialist-{offer.pk}"
        conference_event(callback, "participant-join", CallSid="CA" + "5" * 32, ParticipantLabel=label)
    removed = http.sent[-1]
    assert removed.method == "DELETE" and removed.url.endswith(f"/Participants/operator-{offer.pk}.json")
    call = _call(tenants, sid)
    assert call.outcome == Call.Outcome.TRANSFERRED and call.transferred_to == "billing"
    assert call.talk_seconds is not None
    offer.operator.refresh_from_db()
    assert offer.operator.state == "wrap_up"
    with commit():  # the caller and the specialist hang up later: still transferred, never abandoned
        signed_post("/twilio/voice/status", {"CallSid": sid, "To": alpha_number, "CallStatus": "completed"})
    assert _call(tenants, sid).outcome == Call.Outcome.TRANSFERRED


def test_a_warm_transfer_holds_the_caller_then_joins_them_or_gives_the_call_back(
    db, tenants, queue, alpha_number, commit, bridges, twilio_mock, monkeypatch
):
    http = twilio_with_faults(monkeypatch, twilio_mock)
    sid, offer, callback = _connected(tenants, alpha_number, queue, commit, http)
    _specialist(tenants)
    console = logged_in(None, offer.operator.user)
    url = f"/console/calls/{offer.pk}/transfer"
    console.post(url, {"specialist": "billing", "mode": "warm"}, content_type="application/json")
    holds = [s.data.get("Hold") for s in http.sent if s.url.endswith(f"/Participants/{sid}.json")]
    assert holds == ["true"]  # the caller waits with music while the operator talks to the specialist
    leg_callback = _participant(http).data["StatusCallback"]
    with commit():  # the specialist does not answer: the call stays the operator's, caller back
        leg_event(leg_callback, "no-answer", "CA" + "5" * 32)
    holds = [s.data.get("Hold") for s in http.sent if s.url.endswith(f"/Participants/{sid}.json")]
    assert holds == ["true", "false"] and _call(tenants, sid).transferred_to == ""
    console.post(url, {"specialist": "billing", "mode": "warm"}, content_type="application/json")
    with commit():
        label = f"specialist-{offer.pk}"
        conference_event(callback, "participant-join", CallSid="CA" + "6" * 32, ParticipantLabel=label)
    assert _call(tenants, sid).outcome == ""  # they talk; the caller still on hold
    done = console.post(url, {"action": "complete"}, content_type="application/json")
    assert done.status_code == 200
    call = _call(tenants, sid)
    assert call.outcome == Call.Outcome.TRANSFERRED and call.hold_seconds is not None
    with tenant_context(tenants.alpha):
        assert call.events.filter(kind="transfer_done").count() == 1


def test_an_accept_whose_bridge_cannot_be_sent_sends_the_call_back_in_line(
    db, tenants, queue, alpha_number, commit, broken_publish, caplog
):
    """The broker away past every retry: nobody would ever connect the call. The attempt fails at
    once, as when Twilio stays unavailable, and another operator is offered the call."""
    first = make_operator({queue: 1}, idle=0)
    sid, offer = _call_offered(alpha_number, commit)
    second = make_operator({queue: 1}, idle=10)
    waiting = _accept(offer, commit)  # answers: the accept itself committed

    assert broken_publish.tries == 3 and broken_publish.sent == []
    assert "bridge_call" in caplog.text and "could not be sent" in caplog.text
    after = WaitingCall.objects.get(pk=waiting.pk)
    again = Reservation.objects.get(call=after, state="offered")
    assert again.operator_id == second.pk
    offer.refresh_from_db()
    assert offer.state == "expired" and offer.reason == "leg the platform could not connect it"
    first.refresh_from_db()
    assert first.state == "available" and first.missed_offers == 0  # the platform's fault, not theirs
    call = _call(tenants, sid)
    assert call.answered_at is None and call.outcome == ""
    # Once the broker is back, the next accept is connected as usual.
    broken_publish.failures = broken_publish.tries
    _accept(again, commit)
    assert broken_publish.sent == ["telephony.tasks.bridge_call"]
