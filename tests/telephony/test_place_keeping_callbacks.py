"""A callback that keeps the caller's place (R13): the caller chooses it while waiting, hears the
number and roughly when, hangs up; the callback waits at their place (calls arriving after are
served after it), an operator gets it like a call, the platform dials the caller back into the
call's conference, tries again by the callback rules, and records the outcome."""

from __future__ import annotations

import datetime as dt
import importlib
import json
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context
from twilio.http.response import Response

from accounts.models import Role
from console import controls, screen
from outbound.models import DoNotCall
from reporting.keys import api_key_create
from telephony import callback_dial, gateway, reconcile, routing, tasks
from telephony.answering import accept_offer
from telephony.calls import callback_offer
from telephony.calls.callback_tries import MAX_TRIES, RETRY_AFTER
from telephony.calls.models import Call, Callback, CallEvent, TelephonySettings
from telephony.models import OperatorProfile, PlatformDoNotCall, Queue, Reservation, WaitingCall
from telephony.routing import callbacks as kept
from telephony.simulator.rest_faults import Sent
from tests.conftest import http, logged_in, make_user
from tests.factories import CallFactory
from tests.telephony.calls_kit import incoming
from tests.telephony.conference_kit import (
    conference_event,
    leg_label,
    operator_legs,
    path_of,
    query,
    twilio_with_faults,
)
from tests.telephony.helpers import at, make_operator, make_queue, sid
from tests.twilio_kit import check_twiml, signed_post, verbs

CALLER = "+14155550100"
SPOKEN_CALLER = "plus 1 4 1 5 5 5 5 0 1 0 0"


@pytest.fixture
def queue(db, tenants) -> Queue:
    queue, _ = Queue.objects.get_or_create(tenant=tenants.alpha, is_default=True, defaults={"name": "Main"})
    make_operator({queue: 1}, state="wrap_up")  # staffed, though nobody is free yet
    return queue


@pytest.fixture
def sent_tasks(monkeypatch) -> dict[str, list[int]]:
    """The dial-back and bridge tasks enqueued (run by the test with ``apply``)."""
    sent: dict[str, list[int]] = {"dial_back": [], "bridge_call": []}
    monkeypatch.setattr("telephony.tasks.dial_back.delay", sent["dial_back"].append)
    monkeypatch.setattr("telephony.tasks.bridge_call.delay", sent["bridge_call"].append)
    return sent


def _post(path: str, sid: str, to: str, **fields: str):
    response = signed_post(path, {"CallSid": sid, "To": to, "From": CALLER, **fields})
    assert response.status_code == 200, response.content
    return response


def _said(root) -> str:
    return " ".join(say.text or "" for say in root.iter("Say"))


def _waiting_caller(alpha_number: str, caller: str = CALLER) -> str:
    _, params = incoming(alpha_number, caller=caller)
    return params["CallSid"]


def _leave_the_wait(sid: str, to: str):
    """The caller presses star: out of Twilio's queue, to the choice (their place still kept)."""
    assert verbs(_post("/twilio/voice/wait-key?t=t_alpha", sid, to, Digits="*").content) == ["Leave"]
    options = check_twiml(_post("/twilio/voice/queue-result?t=t_alpha", sid, to, QueueResult="leave").content)
    assert "without losing your place in line, press 1" in _said(options)
    assert options.find("Redirect") is not None  # silence never drops the caller
    return options


def _book(sid: str, to: str) -> str:
    """Star, 1 (callback keeping the place), 1 (confirm the caller ID): what the caller last hears."""
    options = _leave_the_wait(sid, to)
    confirm = check_twiml(_post(options.find("Gather").get("action"), sid, to, Digits="1").content)
    assert SPOKEN_CALLER in _said(confirm) and "in about" in _said(confirm)
    done = _post(confirm.find("Gather").get("action"), sid, to, Digits="1")
    assert verbs(done.content) == ["Say", "Hangup"]
    return _said(check_twiml(done.content))


def _hang_up(sid: str, to: str, status: str = "completed"):
    response = signed_post("/twilio/voice/status", {"CallSid": sid, "To": to, "CallStatus": status})
    assert response.status_code == 204


def _offer_to_new_operator(queue: Queue, commit) -> Reservation:
    operator = make_operator({queue: 1})
    with commit():
        routing.match(queue_ids=[queue.pk])
    return Reservation.objects.get(operator=operator, state="offered")


def _try_of(tenants, waiting: WaitingCall) -> Call:
    waiting.refresh_from_db()
    with tenant_context(tenants.alpha):
        return Call.objects.get(call_sid=waiting.call_sid)


def _callback(tenants, original_sid: str) -> Callback:
    with tenant_context(tenants.alpha):
        return Callback.objects.get(call__call_sid=original_sid)


def _calls_created(http) -> list:
    return [s for s in http.sent if s.method == "POST" and s.url.endswith("/Calls.json") and not s.fault]


# The router -----------------------------------------------------------------------------------


def test_a_callback_keeps_the_callers_place_and_is_served_before_calls_that_came_after(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    with commit():
        first = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(0))
        kept.keep_place(call_sid=first.call_sid, callback_sid="callback-1", now=at(5))
        later = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(10))
        routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(20))
    operator = make_operator({queue: 1})
    with commit():
        routing.match(operator_ids=[operator.pk], now=at(30))
    offer = Reservation.objects.get(operator=operator, state="offered")
    assert offer.call_id == first.pk  # before the calls that arrived after it
    callback = WaitingCall.objects.get(pk=first.pk)
    assert (callback.kind, callback.call_sid, callback.enqueued_at) == ("callback", "callback-1", at(0))
    assert routing.expected_wait(call_sid=later.call_sid)[0] == 2  # the callback counts ahead


def test_a_deferred_callback_waits_for_its_try_then_comes_back_at_its_place(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    with commit():
        first = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(0))
        kept.keep_place(call_sid=first.call_sid, callback_sid="callback-1", now=at(5))
        kept.defer(
            call_sid="callback-1", next_sid="callback-2", due_at=at(600), reason="no-answer", now=at(9)
        )
        later = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(10))
    operator = make_operator({queue: 1})
    with commit():
        routing.match(operator_ids=[operator.pk], now=at(30))
    assert Reservation.objects.get(operator=operator, state="offered").call_id == later.pk  # not due yet
    assert kept.wake_due(now=at(599)) == 0
    assert kept.wake_due(now=at(600)) == 1
    with commit():
        routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(700))
    another = make_operator({queue: 1})
    with commit():
        routing.match(operator_ids=[another.pk], now=at(701))
    offer = Reservation.objects.get(operator=another, state="offered")
    assert offer.call_id == first.pk  # its place: before the call that came after it
    assert WaitingCall.objects.get(pk=first.pk).call_sid == "callback-2"


def test_a_call_being_connected_cannot_become_a_callback(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1})
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(0))
    routing.accept(reservation_id=Reservation.objects.get(call=call).pk, operator=operator.user, now=at(1))
    assert kept.keep_place(call_sid=call.call_sid, callback_sid="callback-x") is None
    assert WaitingCall.objects.get(pk=call.pk).kind == "call"


def test_a_ringing_offer_is_withdrawn_when_the_call_becomes_a_callback_and_offered_again(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1})
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(0))
    first = Reservation.objects.get(call=call)
    with commit():
        kept.keep_place(call_sid=call.call_sid, callback_sid="callback-y")
    first.refresh_from_db()
    operator.refresh_from_db()
    assert first.state == "cancelled" and first.reason == "became a callback"
    assert operator.missed_offers == 0
    again = Reservation.objects.get(call=call, state="offered")  # offered again, as a callback
    assert again.operator_id == operator.pk


# The caller's side, through Twilio's signed webhooks -------------------------------------------


def test_the_caller_hears_their_number_and_roughly_when_and_keeps_their_place_after_hanging_up(
    db, tenants, queue, alpha_number, commit
):
    sid_ = _waiting_caller(alpha_number)
    waiting = WaitingCall.objects.get(call_sid=sid_)
    goodbye = _book(sid_, alpha_number)
    assert SPOKEN_CALLER in goodbye and "keep your place" in goodbye and "in about" in goodbye
    _hang_up(sid_, alpha_number)
    after = WaitingCall.objects.get(pk=waiting.pk)
    assert after.state == "waiting" and after.kind == "callback"
    assert (after.enqueued_at, after.priority) == (waiting.enqueued_at, waiting.priority)
    with tenant_context(tenants.alpha):
        original = Call.objects.get(call_sid=sid_)
        assert original.outcome == Call.Outcome.CALLBACK_REQUESTED
        callback = Callback.objects.get(call=original)
        assert (callback.phone, callback.state, callback.keeps_place) == (CALLER, "in_line", True)
        first_try = Call.objects.get(call_sid=after.call_sid)
        assert first_try.to_number == CALLER and first_try.from_number == alpha_number
        assert first_try.direction == "outbound" and first_try.placed_at is None


def test_a_caller_who_types_another_number_is_asked_again_after_a_bad_one(db, tenants, queue, alpha_number):
    sid_ = _waiting_caller(alpha_number)
    options = _leave_the_wait(sid_, alpha_number)
    confirm = check_twiml(_post(options.find("Gather").get("action"), sid_, alpha_number, Digits="1").content)
    typing = check_twiml(_post(confirm.find("Gather").get("action"), sid_, alpha_number, Digits="2").content)
    gather = typing.find("Gather")
    assert gather.get("finishOnKey") == "#" and "country code" in _said(typing)
    bad = check_twiml(_post(gather.get("action"), sid_, alpha_number, Digits="12345").content)
    assert "plus 1 2 3 4 5 is not a valid phone number" in _said(bad)  # said clearly, asked again
    assert bad.find("Gather").get("finishOnKey") == "#"
    good = check_twiml(
        _post(bad.find("Gather").get("action"), sid_, alpha_number, Digits="4930123456").content
    )
    assert "plus 4 9 3 0 1 2 3 4 5 6" in _said(good)
    done = check_twiml(_post(good.find("Gather").get("action"), sid_, alpha_number, Digits="1").content)
    assert "plus 4 9 3 0 1 2 3 4 5 6" in _said(done)
    assert _callback(tenants, sid_).phone == "+4930123456"
    with tenant_context(tenants.alpha):
        assert Call.objects.get(call_sid=sid_).events.filter(kind="callback_number_refused").count() == 1


def test_an_anonymous_caller_is_asked_to_type_a_number_and_three_bad_ones_lead_to_a_message(
    db, tenants, queue, alpha_number
):
    sid_ = _waiting_caller(alpha_number, caller="anonymous")
    options = _leave_the_wait(sid_, alpha_number)
    typing = check_twiml(_post(options.find("Gather").get("action"), sid_, alpha_number, Digits="1").content)
    assert "type the number" in _said(typing)
    for _ in range(2):
        typing = check_twiml(
            _post(typing.find("Gather").get("action"), sid_, alpha_number, Digits="0").content
        )
        assert "not a valid phone number" in _said(typing)
    message = check_twiml(_post(typing.find("Gather").get("action"), sid_, alpha_number, Digits="0").content)
    assert message.find("Record") is not None  # never dropped: a message instead
    assert WaitingCall.objects.get(call_sid=sid_).state == "left"
    with tenant_context(tenants.alpha):
        assert not Callback.objects.filter(call__call_sid=sid_).exists()


def test_an_operator_who_takes_the_call_as_the_last_bad_number_is_typed_gets_the_caller_not_the_voicemail(
    db, tenants, queue, alpha_number, commit, monkeypatch
):
    """Issue 23's race on the number dialog: the call was in line when the answer was read, then an
    operator took it before the caller was sent to the voicemail. Exactly one outcome: connected."""
    sid_ = _waiting_caller(alpha_number, caller="anonymous")
    options = _leave_the_wait(sid_, alpha_number)
    typing = check_twiml(_post(options.find("Gather").get("action"), sid_, alpha_number, Digits="1").content)
    for _ in range(2):
        typing = check_twiml(
            _post(typing.find("Gather").get("action"), sid_, alpha_number, Digits="0").content
        )
    offer = _offer_to_new_operator(queue, commit)
    read_in_line, taker = callback_offer.in_line, offer.operator.user

    def taken_just_after_the_check(call: Call) -> bool:
        still = read_in_line(call)
        with schema_context("public"):  # from the console, on the platform's host
            routing.accept(reservation_id=offer.pk, operator=taker)
        return still

    monkeypatch.setattr(callback_offer, "in_line", taken_just_after_the_check)
    answer = check_twiml(_post(typing.find("Gather").get("action"), sid_, alpha_number, Digits="0").content)
    assert answer.find("Record") is None
    assert answer.find("Dial/Conference").text == f"call-{sid_}"  # joins the operator's conference
    offer.refresh_from_db()
    operator = OperatorProfile.objects.get(pk=offer.operator_id)
    assert WaitingCall.objects.get(call_sid=sid_).state == "bridged"
    assert (offer.state, operator.state) == ("accepted", "on_call")
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=sid_)
        assert call.outcome == "" and call.events.filter(kind="leave_refused").count() == 1


def test_a_callback_confirmed_as_an_operator_takes_the_call_is_not_booked_and_the_caller_holds_on(
    db, tenants, queue, alpha_number, commit, monkeypatch
):
    """The booking's own check, under the call's lock: the caller confirmed their number while in
    line, an operator took the call before the callback was written. Nothing is kept (no callback,
    no outcome, the call still the operator's); the caller is asked to hold, and the bridge moves
    them to the operator."""
    sid_ = _waiting_caller(alpha_number)
    options = _leave_the_wait(sid_, alpha_number)
    confirm = check_twiml(_post(options.find("Gather").get("action"), sid_, alpha_number, Digits="1").content)
    offer = _offer_to_new_operator(queue, commit)
    read_in_line, taker = callback_offer.in_line, offer.operator.user

    def taken_just_after_the_check(call: Call) -> bool:
        still = read_in_line(call)
        with schema_context("public"):
            routing.accept(reservation_id=offer.pk, operator=taker)
        return still

    monkeypatch.setattr(callback_offer, "in_line", taken_just_after_the_check)
    answer = check_twiml(_post(confirm.find("Gather").get("action"), sid_, alpha_number, Digits="1").content)
    assert "an operator is taking your call" in _said(answer) and answer.find("Hangup") is None
    assert WaitingCall.objects.get(call_sid=sid_).state == "bridged"
    with tenant_context(tenants.alpha):
        assert not Callback.objects.filter(call__call_sid=sid_).exists()
        assert Call.objects.get(call_sid=sid_).outcome == ""


def test_choosing_a_message_instead_leaves_the_line(db, tenants, queue, alpha_number):
    sid_ = _waiting_caller(alpha_number)
    options = _leave_the_wait(sid_, alpha_number)
    record = check_twiml(_post(options.find("Gather").get("action"), sid_, alpha_number, Digits="2").content)
    assert record.find("Record") is not None
    assert WaitingCall.objects.get(call_sid=sid_).state == "left"


# The callback's turn: the operator, the dial-back (Prism), the tries ---------------------------


def _booked_and_offered(
    tenants, queue, alpha_number, commit, *, later_call: bool = True
) -> tuple[str, WaitingCall, Reservation, str]:
    first = _waiting_caller(alpha_number)
    _book(first, alpha_number)
    _hang_up(first, alpha_number)
    later = ""
    if later_call:
        with commit():
            later = incoming(alpha_number, caller="+14155550199")[1]["CallSid"]  # while nobody is free
    offer = _offer_to_new_operator(queue, commit)
    return first, WaitingCall.objects.get(pk=offer.call_id), offer, later


def _accept_and_dial(offer: Reservation, commit, sent_tasks) -> None:
    with commit():
        accept_offer(reservation_id=offer.pk, operator=offer.operator.user)
    assert sent_tasks["bridge_call"] == []  # nobody to move: the caller is called back
    (waiting_id,) = sent_tasks["dial_back"]
    sent_tasks["dial_back"].clear()
    with commit():
        tasks.dial_back.apply(args=[waiting_id])


def _answer(tenants, waiting: WaitingCall, to: str, status_or_answer: str, **fields: str):
    call = _try_of(tenants, waiting)
    with tenant_context(tenants.alpha):
        path = {"answer": "/twilio/voice/callback/answer", "status": "/twilio/voice/callback/status"}
        url = f"{path[status_or_answer]}?t=t_alpha&c={call.pk}"
    params = {"AccountSid": "AC" + "1" * 32, "CallSid": call.call_sid, "Direction": "outbound-api",
              "From": to, "To": CALLER, **fields}  # fmt: skip
    return signed_post(url, params)


def test_when_its_turn_comes_an_operator_gets_the_callback_and_the_platform_dials_the_caller_back(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch
):
    http_ = twilio_with_faults(monkeypatch, twilio_mock)
    original, waiting, offer, later = _booked_and_offered(tenants, queue, alpha_number, commit)
    assert waiting.kind == "callback"  # offered before the call that arrived after it
    assert WaitingCall.objects.get(call_sid=later).state == "waiting"
    pop = screen.screen_pop(reservation_id=offer.pk, operator=offer.operator.user)
    assert pop["callback"]["number"] == CALLER and pop["callback"]["attempt"] == 1
    assert pop["contact"]["phone"] == CALLER
    _accept_and_dial(offer, commit, sent_tasks)
    (create,) = _calls_created(http_)  # Prism validated calls.create against Twilio's spec
    assert create.data["To"] == CALLER and create.data["From"] == alpha_number
    assert query(create.data["Url"])["t"] == "t_alpha"
    assert "/twilio/voice/callback/status" in create.data["StatusCallback"]
    dialled = _try_of(tenants, waiting)
    assert dialled.placed_at is not None and not dialled.call_sid.startswith("callback-")
    assert _callback(tenants, original).state == "dialing"
    with commit():
        answered = _answer(tenants, waiting, alpha_number, "answer", CallStatus="in-progress")
    root = check_twiml(answered.content)
    assert "calling you back" in _said(root)
    conference = root.find("Dial/Conference")
    assert conference.text == f"call-{dialled.call_sid}"
    (bridge_id,) = sent_tasks["bridge_call"]
    with commit():
        tasks.bridge_call.apply(args=[bridge_id])
    (leg,) = operator_legs(http_)
    assert leg_label(leg) == f"operator-{offer.pk}"
    assert leg.data["To"] == f"client:operator-{offer.operator.user_id}"
    with commit():
        conference_event(path_of(conference.get("statusCallback")), "participant-join",
                         CallSid="CA" + "9" * 32, ParticipantLabel=f"operator-{offer.pk}")  # fmt: skip
    assert _try_of(tenants, waiting).answered_at is not None
    with commit():
        assert _answer(tenants, waiting, alpha_number, "status", CallStatus="completed").status_code == 204
    callback = _callback(tenants, original)
    assert (callback.state, callback.attempts) == ("done", 1)
    with tenant_context(tenants.alpha):
        assert Call.objects.get(call_sid=original).events.filter(kind="callback_done").count() == 1
        assert _try_of(tenants, waiting).outcome == Call.Outcome.HANDLED
    offer.operator.refresh_from_db()
    assert offer.operator.state == "wrap_up"
    assert WaitingCall.objects.get(pk=waiting.pk).state == "left"


def test_a_caller_who_does_not_answer_is_tried_again_at_the_same_place_then_given_up(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch
):
    twilio_with_faults(monkeypatch, twilio_mock)
    original, waiting, offer, _ = _booked_and_offered(tenants, queue, alpha_number, commit, later_call=False)
    for attempt in range(1, MAX_TRIES + 1):
        _accept_and_dial(offer, commit, sent_tasks)
        status = "no-answer" if attempt == 1 else "busy"
        with commit():
            assert _answer(tenants, waiting, alpha_number, "status", CallStatus=status).status_code == 204
        operator = OperatorProfile.objects.get(pk=offer.operator_id)
        assert (operator.state, operator.missed_offers) == ("available", 0)  # free at once, not a miss
        callback = _callback(tenants, original)
        assert callback.attempts == attempt
        row = WaitingCall.objects.get(pk=waiting.pk)
        if attempt == MAX_TRIES:
            break
        assert (row.state, row.enqueued_at, callback.state) == ("deferred", waiting.enqueued_at, "in_line")
        assert row.due_at == callback.due_at and callback.due_at - timezone.now() <= RETRY_AFTER
        assert not Reservation.objects.filter(call_id=waiting.pk, state="offered").exists()
        assert kept.wake_due(now=row.due_at + dt.timedelta(seconds=1)) == 1
        with commit():
            routing.match(queue_ids=[queue.pk])
        offer = Reservation.objects.get(call_id=waiting.pk, state="offered")
        assert offer.operator_id == operator.pk
    assert (callback.state, row.state) == ("cancelled", "left")
    with tenant_context(tenants.alpha):
        given_up = Call.objects.get(call_sid=original).events.get(kind="callback_given_up")
        assert given_up.data["tries"] == MAX_TRIES
        tries = Call.objects.filter(events__kind="callback_dial", events__data__callback=callback.pk)
        assert sorted(tries.values_list("outcome", flat=True)) == ["failed"] * MAX_TRIES
    # The lists show each try's outcome.
    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))
    page = viewer.get("/callbacks/", {"state": "cancelled"}).content.decode()
    assert CALLER in page and "no-answer" in page and "place kept" in page


def test_twilio_429_5xx_and_timeouts_are_retried_until_the_caller_is_dialled_once(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch
):
    http_ = twilio_with_faults(monkeypatch, twilio_mock, "429", "503", "timeout")
    original, _, offer, _ = _booked_and_offered(tenants, queue, alpha_number, commit)
    _accept_and_dial(offer, commit, sent_tasks)
    sent = [(s.method, s.fault) for s in http_.sent if "/Calls" in s.url]
    # After the timeout, Twilio is asked whether it placed the call anyway (Prism's calls are old).
    assert sent == [("POST", "429"), ("POST", "503"), ("POST", "timeout"), ("GET", ""), ("POST", "")]
    assert len(_calls_created(http_)) == 1
    assert _callback(tenants, original).state == "dialing"


def test_a_dial_whose_answer_was_lost_is_found_at_twilio_and_not_placed_again(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch
):
    """Twilio placed the call but its answer never came (a read timeout): the retry must not ring
    the person a second time."""
    http_ = twilio_with_faults(monkeypatch, twilio_mock, "lost")
    original, waiting, offer, _ = _booked_and_offered(tenants, queue, alpha_number, commit)
    twilio_knows(http_)
    _accept_and_dial(offer, commit, sent_tasks)
    (created,) = [s for s in http_.sent if s.method == "POST" and s.url.endswith("/Calls.json")]
    assert created.fault == "lost"  # placed once, at Twilio; never again
    dialled = _try_of(tenants, waiting)
    assert dialled.call_sid == twilio_knows.sid and dialled.placed_at is not None
    assert _callback(tenants, original).state == "dialing"
    with tenant_context(tenants.alpha):
        assert dialled.events.filter(kind="dial_unanswered").count() == 1


def _accepted(offer: Reservation, commit, sent_tasks) -> int:
    with commit():
        accept_offer(reservation_id=offer.pk, operator=offer.operator.user)
    (waiting_id,) = sent_tasks["dial_back"]
    sent_tasks["dial_back"].clear()
    return waiting_id


def test_a_dial_whose_worker_died_before_recording_it_is_found_at_twilio_and_not_placed_again(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch
):
    """calls.create succeeded, then the worker died before the CallSid was recorded: the
    redelivered task (acks_late) must not ring the person a second time."""
    http_ = twilio_with_faults(monkeypatch, twilio_mock)
    send = http_.request

    def keep_created(method, url, *args, **kwargs):  # Twilio's list of calls holds the created ones
        answer = send(method, url, *args, **kwargs)
        if method == "POST" and url.endswith("/Calls.json"):
            http_.lost.append(answer)
        return answer

    http_.request = keep_created
    twilio_knows(http_)
    original, waiting, offer, _ = _booked_and_offered(tenants, queue, alpha_number, commit)
    waiting_id = _accepted(offer, commit, sent_tasks)

    class WorkerDied(Exception):
        pass

    def dies(**kwargs):
        raise WorkerDied

    with monkeypatch.context() as patched:
        patched.setattr("telephony.callback_dial.placed", dies)
        with pytest.raises(WorkerDied), commit():
            callback_dial.dial(waiting_call_id=waiting_id)
    with commit():
        assert callback_dial.dial(waiting_call_id=waiting_id) is True  # redelivered
    assert len(_calls_created(http_)) == 1
    dialled = _try_of(tenants, waiting)
    assert dialled.call_sid == twilio_knows.sid and dialled.placed_at is not None
    assert _callback(tenants, original).state == "dialing"


def test_a_try_given_up_after_a_lost_answer_asks_twilio_first_and_keeps_a_call_it_placed(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch
):
    http_ = twilio_with_faults(monkeypatch, twilio_mock, "lost")
    original, waiting, offer, _ = _booked_and_offered(tenants, queue, alpha_number, commit)
    waiting_id = _accepted(offer, commit, sent_tasks)
    with pytest.raises(gateway.TwilioNoAnswer), commit():
        callback_dial.dial(waiting_call_id=waiting_id)
    twilio_knows(http_)  # Twilio answers again: the call it placed is there
    with commit():
        assert callback_dial.give_up(waiting_call_id=waiting_id, reason="Twilio unavailable") is True
    dialled = _try_of(tenants, waiting)
    assert dialled.call_sid == twilio_knows.sid and dialled.placed_at is not None and not dialled.outcome
    assert (_callback(tenants, original).state, _callback(tenants, original).attempts) == ("dialing", 1)


def twilio_knows(http_) -> None:
    """Twilio's list of calls holds the calls created through ``http_`` whose answer was lost."""
    send = http_.request

    def request(method, url, *args, **kwargs):
        if method == "GET" and url.endswith("/Calls.json"):
            http_.sent.append(Sent(method, url, {}))
            calls = []
            for lost in http_.lost:
                created = json.loads(lost.text)
                created["date_created"] = format_datetime(timezone.now(), usegmt=True)
                calls.append(created)
            twilio_knows.sid = calls[0]["sid"] if calls else ""
            return Response(200, json.dumps({"calls": calls, "next_page_uri": None, "page": 0}))
        return send(method, url, *args, **kwargs)

    http_.request = request


@pytest.mark.parametrize("faults", [["refused"], ["500"] * (tasks.BRIDGE_RETRIES + 1)])
def test_a_dial_twilio_refuses_or_never_takes_is_a_failed_try_and_the_callback_keeps_its_place(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch, faults
):
    twilio_with_faults(monkeypatch, twilio_mock, *faults)
    original, waiting, offer, _ = _booked_and_offered(tenants, queue, alpha_number, commit)
    _accept_and_dial(offer, commit, sent_tasks)
    row = WaitingCall.objects.get(pk=waiting.pk)
    assert row.state == "deferred" and row.enqueued_at == waiting.enqueued_at
    callback = _callback(tenants, original)
    assert (callback.state, callback.attempts) == ("in_line", 1)
    operator = OperatorProfile.objects.get(pk=offer.operator_id)
    assert operator.state in {"available", "reserved"}  # free at once (maybe offered the later call)


def test_a_try_whose_final_status_was_lost_is_finished_by_the_reconciliation_by_the_callback_rules(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch
):
    twilio_with_faults(monkeypatch, twilio_mock)
    original, waiting, offer, _ = _booked_and_offered(tenants, queue, alpha_number, commit, later_call=False)
    _accept_and_dial(offer, commit, sent_tasks)
    dialled = _try_of(tenants, waiting)
    lost = reconcile.TwilioCall(sid=dialled.call_sid, status="no-answer", from_number=alpha_number,
                                to_number=CALLER, direction="outbound", start_time=None, end_time=None,
                                duration=0)  # fmt: skip
    with tenant_context(tenants.alpha), commit():
        assert reconcile.reconcile_call(call=dialled, now=timezone.now(), real=lost, asked=True).startswith(
            "finished"
        )
    row = WaitingCall.objects.get(pk=waiting.pk)
    assert (row.state, row.enqueued_at) == ("deferred", waiting.enqueued_at)  # its place kept
    assert _callback(tenants, original).state == "in_line"
    assert OperatorProfile.objects.get(pk=offer.operator_id).state == "available"


def test_a_person_who_picks_up_and_hangs_up_before_the_operator_joins_is_tried_again(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch
):
    twilio_with_faults(monkeypatch, twilio_mock)
    original, waiting, offer, _ = _booked_and_offered(tenants, queue, alpha_number, commit, later_call=False)
    _accept_and_dial(offer, commit, sent_tasks)
    dialled = _try_of(tenants, waiting)
    with commit():
        _answer(tenants, waiting, alpha_number, "answer", CallStatus="in-progress")
        _answer(tenants, waiting, alpha_number, "status", CallStatus="completed")
    assert WaitingCall.objects.get(pk=waiting.pk).state == "deferred"
    assert _callback(tenants, original).state == "in_line"
    with tenant_context(tenants.alpha):
        result = CallEvent.objects.get(call_id=dialled.pk, kind="callback_result")
        assert result.data["outcome"] == "hung-up"
        assert Call.objects.get(pk=dialled.pk).outcome == Call.Outcome.FAILED


def test_an_operator_who_ends_the_callback_before_the_person_answers_gives_it_up(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch
):
    http_ = twilio_with_faults(monkeypatch, twilio_mock)
    original, waiting, offer, _ = _booked_and_offered(tenants, queue, alpha_number, commit, later_call=False)
    _accept_and_dial(offer, commit, sent_tasks)
    dialled = _try_of(tenants, waiting)
    with commit():
        controls.end_call(reservation_id=offer.pk, operator=offer.operator.user)
    assert [
        s.data.get("Status") for s in http_.sent if s.url.endswith(f"/Calls/{dialled.call_sid}.json")
    ] == ["completed"]
    with commit():
        _answer(tenants, waiting, alpha_number, "status", CallStatus="canceled")
    callback = _callback(tenants, original)
    assert (callback.state, callback.attempts) == ("cancelled", 1)
    assert WaitingCall.objects.get(pk=waiting.pk).state == "left"
    with tenant_context(tenants.alpha):
        given_up = Call.objects.get(call_sid=original).events.get(kind="callback_given_up")
        assert given_up.data["last"] == "ended by the operator"


def test_another_company_sees_nothing_of_the_callback(db, tenants, queue, alpha_number, commit, sent_tasks):
    original = _waiting_caller(alpha_number)
    _book(original, alpha_number)
    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))
    page = viewer.get("/callbacks/", {"state": "in_line"}).content.decode()
    assert CALLER in page and "In line, place kept (1)" in page
    beta_admin = make_user(tenants.beta, role=Role.CLIENT_ADMIN)
    assert (
        CALLER
        not in logged_in(tenants.beta, beta_admin).get("/callbacks/", {"state": "all"}).content.decode()
    )
    callback = _callback(tenants, original)
    with tenant_context(tenants.beta):
        _, beta_key = api_key_create(name="crm", scopes=["read_calls"])
    with tenant_context(tenants.alpha):
        _, alpha_key = api_key_create(name="crm", scopes=["read_calls"])
    mine = http(tenants.alpha).get("/api/v1/callbacks/", {"state": "in_line"},
                                   HTTP_AUTHORIZATION=f"Bearer {alpha_key}").json()["results"]  # fmt: skip
    assert [(c["phone"], c["keeps_place"]) for c in mine] == [(CALLER, True)]
    beta = http(tenants.beta)
    listed = beta.get("/api/v1/callbacks/", HTTP_AUTHORIZATION=f"Bearer {beta_key}").json()["results"]
    assert CALLER not in {c["phone"] for c in listed}
    detail = beta.get(f"/api/v1/callbacks/{callback.pk}/", HTTP_AUTHORIZATION=f"Bearer {beta_key}")
    assert detail.status_code == 404
    # A signed dial-back webhook naming alpha's try under beta's schema finds nothing to do.
    with tenant_context(tenants.alpha):
        first_try = Call.objects.get(call_sid=WaitingCall.objects.get(kind="callback").call_sid)
    response = signed_post(f"/twilio/voice/callback/answer?t=t_beta&c={first_try.pk}",
                           {"CallSid": first_try.call_sid, "To": CALLER, "From": alpha_number})  # fmt: skip
    assert verbs(response.content) == ["Hangup"]
    assert WaitingCall.objects.get(kind="callback").state == "waiting"
    # Nor does its status callback: the try is not failed, the callback keeps its place.
    status = signed_post(f"/twilio/voice/callback/status?t=t_beta&c={first_try.pk}",
                         {"CallSid": first_try.call_sid, "To": CALLER, "From": alpha_number,
                          "CallStatus": "no-answer"})  # fmt: skip
    assert status.status_code in (200, 204)
    assert WaitingCall.objects.get(kind="callback").state == "waiting"
    assert _callback(tenants, original).state == "in_line"


def test_an_operator_who_ends_the_callback_before_it_is_dialled_gives_it_up_and_nothing_rings(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch
):
    """Before: the try was never placed, the router's row left, and the callback stayed "in line"
    for ever with nothing to bring it back."""
    http_ = twilio_with_faults(monkeypatch, twilio_mock)
    original, waiting, offer, _ = _booked_and_offered(tenants, queue, alpha_number, commit, later_call=False)
    with commit():
        accept_offer(reservation_id=offer.pk, operator=offer.operator.user)
    (waiting_id,) = sent_tasks["dial_back"]
    with commit():
        controls.end_call(reservation_id=offer.pk, operator=offer.operator.user)
    with commit():
        tasks.dial_back.apply(args=[waiting_id])  # the task runs after: it must not ring anyone
    assert _calls_created(http_) == []
    callback = _callback(tenants, original)
    assert (callback.state, callback.attempts) == ("cancelled", 1)
    assert WaitingCall.objects.get(pk=waiting.pk).state == "left"
    with tenant_context(tenants.alpha):
        given_up = Call.objects.get(call_sid=original).events.get(kind="callback_given_up")
        assert given_up.data["last"] == "ended by the operator"


def test_a_tries_status_callback_reads_its_callback_through_the_call_not_its_events(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch
):
    twilio_with_faults(monkeypatch, twilio_mock)
    original, waiting, offer, _ = _booked_and_offered(tenants, queue, alpha_number, commit, later_call=False)
    _accept_and_dial(offer, commit, sent_tasks)
    dialled = _try_of(tenants, waiting)
    assert dialled.try_of_id == _callback(tenants, original).pk
    with CaptureQueriesContext(connection) as queries, commit():
        assert _answer(tenants, waiting, alpha_number, "status", CallStatus="no-answer").status_code == 204
    read = [q["sql"] for q in queries if q["sql"].startswith("SELECT") and "callback_dial" in q["sql"]]
    assert read == []  # before: the "callback_dial" event looked up at every step of the callback
    locked = [q["sql"] for q in queries if 'FROM "calls_callback"' in q["sql"]]
    assert len(locked) == 1  # the callback itself, read (locked) once
    assert _callback(tenants, original).state == "in_line"  # the callback rules applied


def test_the_migration_links_existing_tries_to_their_callback_from_their_event(db, tenants):
    link_tries = importlib.import_module("telephony.calls.migrations.0014_call_try_of").link_tries
    with tenant_context(tenants.alpha):
        original = CallFactory(call_sid=sid())
        callback = Callback.objects.create(
            call=original, phone=CALLER, reason="requested", due_at=timezone.now()
        )
        tried, orphan, other = (CallFactory(call_sid=sid()) for _ in range(3))
        CallEvent.objects.create(
            call=tried, kind="callback_dial", at=timezone.now(), data={"callback": callback.pk}
        )
        CallEvent.objects.create(call=orphan, kind="callback_dial", at=timezone.now(), data={"callback": 0})
        link_tries(apps, None)
        assert Call.objects.get(pk=tried.pk).try_of_id == callback.pk
        assert Call.objects.get(pk=orphan.pk).try_of_id is None  # its callback deleted since
        assert Call.objects.get(pk=other.pk).try_of_id is None


def test_the_migration_marks_place_keeping_tries_and_links_the_dialers_calls_to_their_callback(db, tenants):
    link = importlib.import_module("telephony.calls.migrations.0015_link_dialer_tries").link_tries
    with tenant_context(tenants.alpha):
        callback = Callback.objects.create(
            call=CallFactory(call_sid=sid()), phone=CALLER, reason="requested", due_at=timezone.now()
        )
        kept_try, dialled, campaign_call = (CallFactory(call_sid=sid()) for _ in range(3))
        Call.objects.filter(pk=kept_try.pk).update(try_of=callback)
        CallEvent.objects.create(
            call=kept_try, kind="callback_dial", at=timezone.now(), data={"callback": callback.pk}
        )
        CallEvent.objects.create(call=dialled, kind="outbound_task", at=timezone.now(),
                                 data={"task": "callback", "callback": callback.pk})  # fmt: skip
        CallEvent.objects.create(call=campaign_call, kind="outbound_task", at=timezone.now(),
                                 data={"task": "campaign", "campaign": 1})  # fmt: skip
        link(apps, None)
        rows = Call.objects.in_bulk([kept_try.pk, dialled.pk, campaign_call.pk])
        assert (rows[kept_try.pk].try_of_id, rows[kept_try.pk].place_keeping_try) == (callback.pk, True)
        assert (rows[dialled.pk].try_of_id, rows[dialled.pk].place_keeping_try) == (callback.pk, False)
        assert (rows[campaign_call.pk].try_of_id, rows[campaign_call.pk].place_keeping_try) == (None, False)


# Do-not-call lists and calling hours, at the moment of dialling -------------------------------


def test_a_number_put_on_a_do_not_call_list_after_the_request_is_not_called_back(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch
):
    http_ = twilio_with_faults(monkeypatch, twilio_mock)
    original, waiting, offer, _ = _booked_and_offered(tenants, queue, alpha_number, commit, later_call=False)
    with tenant_context(tenants.alpha):
        DoNotCall.objects.create(phone=CALLER, reason="asked by phone")  # after asking for the callback
    _accept_and_dial(offer, commit, sent_tasks)
    assert _calls_created(http_) == []
    callback = _callback(tenants, original)
    assert callback.state == "cancelled"
    assert WaitingCall.objects.get(pk=waiting.pk).state == "left"
    assert OperatorProfile.objects.get(pk=offer.operator_id).state == "available"  # freed at once
    with tenant_context(tenants.alpha):
        (event,) = Call.objects.get(call_sid=original).events.filter(kind="callback_cancelled")
        assert "do-not-call" in event.data["reason"]


def test_asking_for_the_callback_is_consent_over_an_earlier_do_not_call_entry(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch
):
    http_ = twilio_with_faults(monkeypatch, twilio_mock)
    with tenant_context(tenants.alpha):
        DoNotCall.objects.create(phone=CALLER, reason="an old campaign's opt-out")
    assert not PlatformDoNotCall.objects.filter(phone=CALLER).exists()
    original, _, offer, _ = _booked_and_offered(tenants, queue, alpha_number, commit, later_call=False)
    _accept_and_dial(offer, commit, sent_tasks)
    assert len(_calls_created(http_)) == 1
    assert _callback(tenants, original).state == "dialing"


def test_another_companys_do_not_call_list_does_not_stop_the_callback(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch
):
    http_ = twilio_with_faults(monkeypatch, twilio_mock)
    original, _, offer, _ = _booked_and_offered(tenants, queue, alpha_number, commit, later_call=False)
    with tenant_context(tenants.beta):
        DoNotCall.objects.create(phone=CALLER, reason="beta's own list")
    _accept_and_dial(offer, commit, sent_tasks)
    assert len(_calls_created(http_)) == 1
    assert _callback(tenants, original).state == "dialing"


def _zone_where_it_is(hour: int) -> str:
    """An IANA zone whose local time is now ``hour`` o'clock (give or take the minutes)."""
    shift = (hour - timezone.now().hour) % 24
    shift = shift - 24 if shift > 14 else shift
    return f"Etc/GMT{-shift:+d}" if shift else "UTC"


def test_outside_the_calling_hours_the_callback_waits_at_its_place_for_their_opening(
    db, tenants, queue, alpha_number, commit, sent_tasks, twilio_mock, monkeypatch, settings
):
    http_ = twilio_with_faults(monkeypatch, twilio_mock)
    settings.CALLBACK_CALLING_HOURS = "08:00-21:00"
    zone = _zone_where_it_is(3)
    with tenant_context(tenants.alpha):
        TelephonySettings.current()
        TelephonySettings.objects.update(timezone=zone)
    original, waiting, offer, _ = _booked_and_offered(tenants, queue, alpha_number, commit, later_call=False)
    _accept_and_dial(offer, commit, sent_tasks)
    assert _calls_created(http_) == []
    opening = timezone.localtime(timezone=ZoneInfo(zone)).replace(hour=8, minute=0, second=0, microsecond=0)
    row = WaitingCall.objects.get(pk=waiting.pk)
    assert (row.state, row.enqueued_at, row.due_at) == ("deferred", waiting.enqueued_at, opening)
    callback = _callback(tenants, original)
    assert (callback.state, callback.due_at, callback.attempts) == ("in_line", opening, 0)  # not a try
    assert OperatorProfile.objects.get(pk=offer.operator_id).state == "available"
    with tenant_context(tenants.alpha):
        (event,) = Call.objects.get(call_sid=original).events.filter(kind="callback_postponed")
        assert event.data["reason"] == "outside the calling hours"
        assert _try_of(tenants, waiting).outcome == ""  # the same try, dialled at the opening


# A queue nobody staffs -------------------------------------------------------------------------


def _kept_then_aged(tenants, queue, alpha_number, commit) -> tuple[str, WaitingCall]:
    first = _waiting_caller(alpha_number)
    _book(first, alpha_number)
    _hang_up(first, alpha_number)
    waiting = WaitingCall.objects.get(kind="callback", queue=queue, state="waiting")
    WaitingCall.objects.filter(pk=waiting.pk).update(
        enqueued_at=waiting.enqueued_at - dt.timedelta(seconds=queue.max_wait)
    )
    return first, waiting


def test_a_kept_callbacks_try_leaving_the_line_unstaffed_is_closed_even_when_its_callback_moved_on(
    db, tenants, queue, alpha_number, commit
):
    original, waiting = _kept_then_aged(tenants, queue, alpha_number, commit)
    with tenant_context(tenants.alpha):
        Callback.objects.filter(call__call_sid=original).update(state=Callback.State.CANCELLED)
    OperatorProfile.objects.filter(skills__queue=queue).update(state="offline")
    with commit():
        tasks.routing_tick.apply()
    assert WaitingCall.objects.get(pk=waiting.pk).state == "left"
    with tenant_context(tenants.alpha):
        unrung = Call.objects.get(try_of=_callback(tenants, original))
        assert (unrung.outcome, unrung.placed_at) == (Call.Outcome.FAILED, None)  # never left open


def test_a_kept_callback_in_a_queue_nobody_staffs_goes_to_the_callback_list_after_the_max_wait(
    db, tenants, queue, alpha_number, commit
):
    original, waiting = _kept_then_aged(tenants, queue, alpha_number, commit)
    with commit():
        tasks.routing_tick.apply()
    assert WaitingCall.objects.get(pk=waiting.pk).state == "waiting"  # staffed: it waits its turn
    OperatorProfile.objects.filter(skills__queue=queue).update(state="offline")  # everyone gone home
    with commit():
        tasks.routing_tick.apply()
    row = WaitingCall.objects.get(pk=waiting.pk)
    assert (row.state, row.outcome) == ("left", "callback list")
    callback = _callback(tenants, original)
    assert (callback.state, callback.keeps_place) == ("open", False)  # on the list, due now
    assert callback.due_at <= timezone.now()
    with tenant_context(tenants.alpha):
        (event,) = Call.objects.get(call_sid=original).events.filter(kind="callback_handed_over")
        assert event.data["reason"] == "nobody staffed the queue" and event.data["waited"] >= queue.max_wait
        unrung = Call.objects.get(try_of=callback)
        assert (unrung.outcome, unrung.placed_at) == (Call.Outcome.FAILED, None)
    with commit():
        tasks.routing_tick.apply()  # once
    with tenant_context(tenants.alpha):
        assert Call.objects.get(call_sid=original).events.filter(kind="callback_handed_over").count() == 1
    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))
    assert CALLER in viewer.get("/callbacks/", {"state": "open"}).content.decode()


def test_a_callback_whose_dial_back_cannot_be_sent_keeps_its_place_and_every_try(
    db, tenants, queue, alpha_number, commit, broken_publish
):
    """The broker away when the operator accepts: nobody was dialled, so the callback goes back in
    line with its place and loses none of its tries, and the operator is not counted a miss."""
    original, waiting, offer, _ = _booked_and_offered(tenants, queue, alpha_number, commit, later_call=False)
    before = _callback(tenants, original)
    with commit():
        accept_offer(reservation_id=offer.pk, operator=offer.operator.user)
    assert broken_publish.tries == 3 and broken_publish.sent == []
    after = WaitingCall.objects.get(pk=waiting.pk)
    assert after.state in {"waiting", "reserved"} and after.enqueued_at == waiting.enqueued_at
    kept = _callback(tenants, original)
    assert (kept.state, kept.attempts) == (before.state, before.attempts)
    offer.refresh_from_db()
    assert offer.state == "expired" and offer.operator.missed_offers == 0
    attempt = _try_of(tenants, waiting)
    assert attempt.placed_at is None and attempt.outcome == ""  # never dialled, not failed
