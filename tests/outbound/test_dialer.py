"""The dialer: free operators get at most one outbound call each, through the real twilio client."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from outbound import dialer, progress, work
from outbound.models import Attempt, Campaign, CampaignContact, DoNotCall
from telephony.calls.models import Call, Callback
from telephony.models import (
    OperatorProfile,
    OutboundWork,
    PhoneNumber,
    PlatformDoNotCall,
    Queue,
    Reservation,
    Skill,
    WaitingCall,
)
from tests.conftest import http
from tests.factories import CallbackFactory, CallFactory
from tests.outbound.dialer_kit import (
    operators_on,
    outbound_calls,
    phone,
    running_campaign,
    spy_calls_create,
    twilio_post,
)
from tests.telephony.helpers import CERTIFIED_UNTIL, make_operator, make_queue, sid
from tests.twilio_kit import check_twiml


@pytest.fixture
def created(monkeypatch, twilio_mock):
    """Every ``calls.create`` the dialer makes, validated by Prism."""
    return spy_calls_create(monkeypatch)


@pytest.fixture
def dial_pass(db):
    """``dialer.unscoped_dial_pass`` narrowed to the operators this test makes: the pass is
    cross-tenant, and a concurrent test's committed operators must neither be taken nor counted."""
    baseline = OperatorProfile.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def run(**kwargs):
        mine = list(OperatorProfile.objects.filter(pk__gt=baseline).values_list("pk", flat=True))
        return dialer.unscoped_dial_pass(operator_ids=mine, **kwargs)

    return run


def test_progressive_dials_one_call_per_free_operator_and_no_more(dial_pass, db, tenants, created):
    campaign, queue, phones = running_campaign(tenants.alpha, contacts=5)
    ops = operators_on(queue, 2)
    busy = make_operator({queue: 1}, state="break")

    made = dial_pass()

    assert len(made) == 2 and {r.operator_id for r in made} == {o.pk for o in ops}
    assert len(created) == 2
    calls = outbound_calls(tenants.alpha)
    assert len(calls) == 2
    for call in calls:
        assert call.call_sid.startswith("CA") and call.status == "ringing"
        assert call.from_number == campaign.caller_id and call.to_number in phones
        assert call.script_session_id is not None
    for sent in created:
        assert sent["from_"] == campaign.caller_id
        assert sent["url"].startswith("https://localhost/twilio/voice/outbound/answer?t=t_alpha&c=")
        assert "/twilio/voice/outbound/status?t=t_alpha" in sent["status_callback"]
        assert "machine_detection" not in sent
    assert set(
        OperatorProfile.objects.filter(pk__in=[o.pk for o in ops]).values_list("state", flat=True)
    ) == {"on_call"}
    busy.refresh_from_db()
    assert busy.state == "break"
    with tenant_context(tenants.alpha):
        assert CampaignContact.objects.filter(campaign=campaign, state="in_progress").count() == 2
        assert Attempt.objects.filter(campaign=campaign, call__isnull=False).count() == 2
    # Nobody is free any more: a second pass dials nothing.
    assert dial_pass() == []
    assert len(created) == 2


def test_an_operator_is_not_taken_for_outbound_while_an_inbound_call_for_them_waits(
    dial_pass, db, tenants, created
):
    _, queue, _ = running_campaign(tenants.alpha, contacts=2)
    inbound = Queue.objects.create(tenant=tenants.alpha, name="inbound-" + sid()[-6:])
    (operator,) = operators_on(queue, 1)
    operator.skills.create(queue=inbound, tier=1, certified_until=CERTIFIED_UNTIL)
    WaitingCall.objects.create(
        tenant=tenants.alpha, queue=inbound, call_sid=sid(), enqueued_at=timezone.now()
    )

    assert dial_pass() == []
    assert created == []
    WaitingCall.objects.filter(queue=inbound).update(state="left")
    assert len(dial_pass()) == 1


def test_a_paused_campaign_dials_nothing_at_once(dial_pass, db, tenants, created):
    campaign, queue, _ = running_campaign(tenants.alpha, contacts=2)
    operators_on(queue, 1)
    with tenant_context(tenants.alpha):
        Campaign.objects.filter(pk=campaign.pk).update(state=Campaign.State.PAUSED)
    assert dial_pass() == []
    assert created == []


def test_numbers_on_either_do_not_call_list_are_never_dialed(dial_pass, db, tenants, created):
    _campaign, queue, phones = running_campaign(tenants.alpha, contacts=3)
    operators_on(queue, 3)
    PlatformDoNotCall.objects.create(phone=phones[0])
    with tenant_context(tenants.alpha):
        DoNotCall.objects.create(phone=phones[1])

    dial_pass()

    assert [sent["to"] for sent in created] == [phones[2]]


def test_a_number_put_on_the_list_while_the_campaign_runs_is_not_dialed(dial_pass, db, tenants, created):
    """Reserved (preview) before it was listed: the Dial is refused and the operator freed."""
    campaign, queue, phones = running_campaign(tenants.alpha, contacts=1, mode="preview")
    (operator,) = operators_on(queue, 1)
    (reserved,) = dial_pass()
    assert created == []  # preview: nothing dialed before the operator says so
    PlatformDoNotCall.objects.create(phone=phones[0])

    with pytest.raises(dialer.DialError, match="do-not-call"):
        dialer.place_call(tenant=tenants.alpha, call_id=reserved.call_id)

    assert created == []
    operator.refresh_from_db()
    assert operator.state == "available"
    assert Reservation.objects.get(pk=reserved.reservation_id).state == "cancelled"
    with tenant_context(tenants.alpha):
        assert CampaignContact.objects.get(phone=phones[0]).state == "dnc"
        assert not Call.objects.filter(pk=reserved.call_id).exists()  # never rang: no call record
        assert Attempt.objects.get(campaign=campaign).outcome == "canceled"


def test_the_calling_window_is_checked_again_at_dial_time(dial_pass, db, tenants, created):
    campaign, queue, phones = running_campaign(tenants.alpha, contacts=1, mode="preview")
    operators_on(queue, 1)
    (reserved,) = dial_pass()
    now = timezone.now()
    with tenant_context(tenants.alpha):
        # The window closed while the operator read the card (the contact is in Tokyo).
        CampaignContact.objects.filter(phone=phones[0]).update(timezone="Asia/Tokyo")
        local = now.astimezone(dt.timezone(dt.timedelta(hours=9)))
        start = (local + dt.timedelta(hours=2)).time().replace(microsecond=0)
        end = (local + dt.timedelta(hours=3)).time().replace(microsecond=0)
        if start < end:
            Campaign.objects.filter(pk=campaign.pk).update(window_start=start, window_end=end)
        else:
            Campaign.objects.filter(pk=campaign.pk).update(window_days=[])
    with pytest.raises(dialer.DialError):
        dialer.place_call(tenant=tenants.alpha, call_id=reserved.call_id, now=now)
    assert created == []


def test_answering_machine_hears_the_campaigns_message_and_the_contact_is_retried(
    dial_pass, db, tenants, created
):
    _campaign, queue, phones = running_campaign(
        tenants.alpha, contacts=1, amd_enabled=True, machine_action="message",
        machine_message="Hello from Alpha, we will call again.", retry_machine_minutes=60,
    )  # fmt: skip
    (operator,) = operators_on(queue, 1)
    dial_pass()
    assert created[0]["machine_detection"] == "DetectMessageEnd"
    (call,) = outbound_calls(tenants.alpha)

    response = twilio_post("answer", tenants.alpha, call, AnsweredBy="machine_end_beep")

    root = check_twiml(response.content)
    assert [v.tag for v in root] == ["Say", "Hangup"]
    assert root.find("Say").text == "Hello from Alpha, we will call again."
    operator.refresh_from_db()
    assert operator.state == "available"
    twilio_post("status", tenants.alpha, call, CallStatus="completed", CallDuration="20")
    with tenant_context(tenants.alpha):
        entry = CampaignContact.objects.get(phone=phones[0])
        assert entry.state == "pending" and entry.last_outcome == "machine" and entry.attempts == 1
        assert entry.next_due_at >= timezone.now() + dt.timedelta(minutes=59)
        call.refresh_from_db()
        assert call.outcome == "failed" and call.events.filter(kind="machine_message").exists()


def test_a_recorded_message_is_played_to_a_machine(dial_pass, db, tenants, created):
    running_campaign(
        tenants.alpha, contacts=1, amd_enabled=True, machine_action="recording",
        machine_recording_url="https://example.com/message.mp3",
    )  # fmt: skip
    queue = Queue.objects.filter(tenant=tenants.alpha).order_by("-pk").first()
    operators_on(queue, 1)
    dial_pass()
    (call,) = outbound_calls(tenants.alpha)
    root = check_twiml(twilio_post("answer", tenants.alpha, call, AnsweredBy="machine_end_silence").content)
    assert [v.tag for v in root] == ["Play", "Hangup"]
    assert root.find("Play").text == "https://example.com/message.mp3"


def test_a_person_answering_is_bridged_to_the_reserved_operator(dial_pass, db, tenants, created):
    campaign, queue, phones = running_campaign(tenants.alpha, contacts=1, amd_enabled=True)
    (operator,) = operators_on(queue, 1)
    dial_pass()
    assert created[0]["machine_detection"] == "Enable"  # nothing to leave: answer sooner
    (call,) = outbound_calls(tenants.alpha)

    root = check_twiml(twilio_post("answer", tenants.alpha, call, AnsweredBy="human").content)

    dial = root.find("Dial")
    assert dial.find("Client").text == f"operator-{operator.user_id}"
    assert "/twilio/voice/outbound/dial-result?t=t_alpha" in dial.get("action")
    waiting = WaitingCall.objects.get(call_sid=call.call_sid)
    assert waiting.state == "bridged" and waiting.operator_id == operator.pk
    twilio_post("dial-result", tenants.alpha, call, DialCallStatus="completed", DialCallDuration="42")
    twilio_post("status", tenants.alpha, call, CallStatus="completed", CallDuration="50")
    operator.refresh_from_db()
    assert operator.state == "wrap_up"
    with tenant_context(tenants.alpha):
        call.refresh_from_db()
        assert call.outcome == "handled" and call.answered_at
        # Talk from the call's times (answer to hang-up, less hold), not the leg's DialCallDuration.
        talk = (call.ended_at - call.answered_at).total_seconds() - call.hold_seconds
        assert call.talk_seconds == max(0, round(talk))
        entry = CampaignContact.objects.get(phone=phones[0])
        assert entry.state == "done" and Attempt.objects.get(campaign=campaign).outcome == "answered"


@pytest.mark.parametrize(
    ("status", "outcome", "minutes"), [("busy", "busy", 15), ("no-answer", "no-answer", 120)]
)
def test_busy_and_no_answer_free_the_operator_and_retry_per_the_rule(
    dial_pass, db, tenants, created, status, outcome, minutes
):
    campaign, queue, phones = running_campaign(tenants.alpha, contacts=1)
    (operator,) = operators_on(queue, 1)
    dial_pass()
    (call,) = outbound_calls(tenants.alpha)

    twilio_post("status", tenants.alpha, call, CallStatus=status)
    twilio_post("status", tenants.alpha, call, CallStatus=status)  # Twilio may post twice

    operator.refresh_from_db()
    assert operator.state == "available"
    with tenant_context(tenants.alpha):
        entry = CampaignContact.objects.get(phone=phones[0])
        assert entry.state == "pending" and entry.last_outcome == outcome and entry.attempts == 1
        due = entry.next_due_at - timezone.now()
        assert dt.timedelta(minutes=minutes - 1) < due <= dt.timedelta(minutes=minutes)
        assert Attempt.objects.filter(campaign=campaign).count() == 1
        call.refresh_from_db()
        assert call.outcome == "failed" and call.status == status


def test_a_contact_is_never_dialed_more_than_the_maximum(dial_pass, db, tenants, created):
    _campaign, queue, phones = running_campaign(
        tenants.alpha, contacts=1, max_attempts=2, retry_busy_minutes=0
    )
    (_operator,) = operators_on(queue, 1)
    for _ in range(4):
        dial_pass()
        for call in outbound_calls(tenants.alpha):
            if not call.outcome:
                twilio_post("status", tenants.alpha, call, CallStatus="busy")
    assert len(created) == 2
    with tenant_context(tenants.alpha):
        assert CampaignContact.objects.get(phone=phones[0]).state == "exhausted"


@pytest.fixture
def called_number(db, tenants) -> str:
    """The number the earlier calls dialled (the factory's): alpha's, so callbacks are shown from it."""
    number, _ = PhoneNumber.objects.get_or_create(
        number="+15550199001", defaults={"tenant": tenants.alpha, "state": PhoneNumber.State.ASSIGNED}
    )
    return number.number


def test_due_callbacks_are_previewed_first_then_dialed_and_closed(
    dial_pass, db, tenants, created, called_number
):
    _, queue, _ = running_campaign(tenants.alpha, contacts=1)
    (_operator,) = operators_on(queue, 1)
    caller = phone()
    with tenant_context(tenants.alpha):
        earlier = CallFactory(from_number=caller, outcome="callback_requested", outcome_at=timezone.now())
        callback = CallbackFactory(call=earlier, reason="requested", queue_id=queue.pk, priority=7)

    (reserved,) = dial_pass()

    assert reserved.mode == "preview" and created == []  # the callback came before the campaign
    with tenant_context(tenants.alpha):
        assert Callback.objects.get(pk=callback.pk).state == "dialing"
        # A try of the callback (its lists read it through the call), not one that kept a place.
        tried = Call.objects.get(pk=reserved.call_id)
        assert (tried.try_of_id, tried.place_keeping_try) == (callback.pk, False)
    assert dialer.place_call(tenant=tenants.alpha, call_id=reserved.call_id)
    assert created[0]["to"] == caller and created[0]["from_"] == "+15550199001"
    (call,) = outbound_calls(tenants.alpha)
    check_twiml(twilio_post("answer", tenants.alpha, call).content)
    twilio_post("status", tenants.alpha, call, CallStatus="completed", CallDuration="30")
    with tenant_context(tenants.alpha):
        callback.refresh_from_db()
        assert callback.state == "done" and callback.attempts == 1


def test_an_unanswered_callback_is_tried_again_later_then_given_up(
    dial_pass, db, tenants, created, called_number
):
    queue = Queue.objects.create(tenant=tenants.alpha, name="cb-" + sid()[-6:])
    (_operator,) = operators_on(queue, 1)
    caller = phone()
    with tenant_context(tenants.alpha):
        earlier = CallFactory(from_number=caller)
        callback = CallbackFactory(call=earlier, reason="abandoned", queue_id=queue.pk)
    for attempt in range(1, progress.CALLBACK_MAX_ATTEMPTS + 1):
        with tenant_context(tenants.alpha):
            Callback.objects.filter(pk=callback.pk).update(due_at=timezone.now())
        (reserved,) = dial_pass()
        dialer.place_call(tenant=tenants.alpha, call_id=reserved.call_id)
        with tenant_context(tenants.alpha):
            call = Call.objects.get(pk=reserved.call_id)
        twilio_post("status", tenants.alpha, call, CallStatus="no-answer")
        with tenant_context(tenants.alpha):
            callback.refresh_from_db()
        assert callback.attempts == attempt
    assert callback.state == "cancelled"


def test_another_companys_webhook_cannot_touch_the_call(dial_pass, db, tenants, created):
    _, queue, _ = running_campaign(tenants.alpha, contacts=1)
    (_operator,) = operators_on(queue, 1)
    dial_pass()
    (call,) = outbound_calls(tenants.alpha)
    with tenant_context(tenants.alpha):
        before = (Call.objects.values().get(pk=call.pk), list(Attempt.objects.values()), call.events.count())
    response = twilio_post("answer", tenants.beta, call)  # beta's schema, alpha's call id
    assert [v.tag for v in check_twiml(response.content)] == ["Hangup"]
    with tenant_context(tenants.alpha):
        call.refresh_from_db()
        assert call.answered_at is None and not call.events.filter(kind="bridged").exists()
    # The status and dial-result webhooks neither end nor touch alpha's call either.
    ended = {"CallStatus": "completed", "CallDuration": "30"}
    for path, fields in (("status", ended), ("dial-result", {"DialCallStatus": "completed"})):
        response = twilio_post(path, tenants.beta, call, **fields)
        assert [v.tag for v in check_twiml(response.content)] == ["Hangup"]
    with tenant_context(tenants.alpha):
        after = (Call.objects.values().get(pk=call.pk), list(Attempt.objects.values()), call.events.count())
    assert after == before
    unsigned = http(None).post(
        f"/twilio/voice/outbound/answer?t=t_alpha&c={call.pk}", {"CallSid": call.call_sid}
    )
    assert unsigned.status_code == 403


def test_an_operator_becoming_available_asks_the_dialer_only_when_no_inbound_call_takes_them(
    db, tenants, monkeypatch, django_capture_on_commit_callbacks
):
    from telephony import routing

    asked: list[list[int]] = []
    monkeypatch.setattr("outbound.tasks.dial_for_operators.delay", asked.append)  # the broker's edge
    queue, other = make_queue(tenants.alpha), make_queue(tenants.alpha)
    operator = make_operator({queue: 1}, state="break")

    def freed() -> list[list[int]]:
        asked.clear()
        routing.operator_set_state(operator=operator.user, state="break", reason="Lunch")
        with django_capture_on_commit_callbacks(execute=True):
            routing.operator_set_state(operator=operator.user, state="available")
        return list(asked)

    # Nothing due in the dialer's index for their queues: no task (the periodic tick finds later work).
    assert freed() == []
    work.mark_work(tenant=tenants.alpha, queue_id=other.pk)  # a queue they have no skill for
    assert freed() == []
    work.mark_work(tenant=tenants.alpha, queue_id=queue.pk, due_at=timezone.now() + dt.timedelta(minutes=5))
    assert freed() == []  # not due yet
    OutboundWork.objects.filter(queue=queue).update(due_at=timezone.now())
    assert freed() == [[operator.pk]]  # work due, nothing inbound waits: the dialer is asked
    Skill.objects.filter(operator=operator).update(certified_until=None)
    assert freed() == []  # not certified for that company any more: the dialer could not use them
    Skill.objects.filter(operator=operator).update(certified_until=CERTIFIED_UNTIL)
    # An inbound call waits: the router offers it to them first, and the dialer is not asked.
    asked.clear()
    routing.operator_set_state(operator=operator.user, state="break", reason="Lunch")
    call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid="CA" + "1" * 32)
    with django_capture_on_commit_callbacks(execute=True):
        routing.operator_set_state(operator=operator.user, state="available")
    assert Reservation.objects.get(call=call, state="offered").operator_id == operator.pk
    assert asked == []


def test_a_preview_left_too_long_goes_back_and_frees_the_operator(dial_pass, db, tenants, created):
    from outbound.tasks import dial_tick

    _, queue, phones = running_campaign(tenants.alpha, contacts=1, mode="preview")
    (operator,) = operators_on(queue, 1)
    (reserved,) = dial_pass()
    WaitingCall.objects.filter(pk=Reservation.objects.get(pk=reserved.reservation_id).call_id).update(
        enqueued_at=timezone.now() - dialer.PREVIEW_TIMEOUT - dt.timedelta(seconds=1)
    )

    dial_tick()

    operator.refresh_from_db()
    assert operator.state == "available"  # and the contact is not due again yet: no new preview
    assert Reservation.objects.get(pk=reserved.reservation_id).state == "cancelled"
    with tenant_context(tenants.alpha):
        entry = CampaignContact.objects.get(phone=phones[0])
        assert entry.state == "pending" and entry.attempts == 0 and entry.next_due_at > timezone.now()
        assert not Call.objects.filter(pk=reserved.call_id).exists()
    assert created == []


def test_outbound_calls_neither_fill_the_queue_nor_count_ahead_of_callers(dial_pass, db, tenants, created):
    from telephony import routing

    _, queue, _ = running_campaign(tenants.alpha, contacts=2, mode="preview")
    operators_on(queue, 2)
    Queue.objects.filter(pk=queue.pk).update(max_length=1)
    queue.refresh_from_db()
    assert len(dial_pass()) == 2

    assert routing.door(queue=queue).full is False
    caller = WaitingCall.objects.create(
        tenant=tenants.alpha, queue=queue, call_sid=sid(), enqueued_at=timezone.now()
    )
    assert routing.expected_wait(call_sid=caller.call_sid)[0] == 1


def test_a_webhook_naming_another_calls_sid_changes_nothing(dial_pass, db, tenants, created):
    _, queue, _ = running_campaign(tenants.alpha, contacts=2)
    operators_on(queue, 2)
    dial_pass()
    first, second = outbound_calls(tenants.alpha)
    first.call_sid = second.call_sid  # a replayed request with the other call's CallSid
    response = twilio_post("answer", tenants.alpha, first)
    assert [v.tag for v in check_twiml(response.content)] == ["Hangup"]
    with tenant_context(tenants.alpha):
        assert not Call.objects.filter(answered_at__isnull=False).exists()


def test_a_call_refused_at_dial_time_does_not_stop_the_others(dial_pass, db, tenants, created, monkeypatch):
    _, queue, phones = running_campaign(tenants.alpha, contacts=2)
    operators_on(queue, 2)
    real = dialer.dial_refusal
    monkeypatch.setattr(
        dialer,
        "dial_refusal",
        lambda task, phone, now: "listed" if phone == phones[0] else real(task, phone, now),
    )
    assert len(dial_pass()) == 2
    assert [c["to"] for c in created] == [phones[1]]


def test_twilio_unreachable_fails_the_attempt_and_frees_the_operator(
    dial_pass, db, tenants, twilio_mock, monkeypatch
):
    from requests.exceptions import ConnectionError as Unreachable

    from telephony import gateway

    def down(**kwargs):
        raise Unreachable("connection refused")

    monkeypatch.setattr(gateway.client().calls, "create", down)
    _, queue, phones = running_campaign(tenants.alpha, contacts=1, retry_failed_minutes=10)
    (operator,) = operators_on(queue, 1)

    dial_pass()

    operator.refresh_from_db()
    assert operator.state == "available"
    with tenant_context(tenants.alpha):
        entry = CampaignContact.objects.get(phone=phones[0])
        assert (
            entry.state == "pending" and entry.last_outcome == "failed" and entry.next_due_at > timezone.now()
        )
        (call,) = Call.objects.filter(direction="outbound")
        assert call.outcome == "failed"


def test_the_wallboard_counts_outbound_calls_in_no_queue_and_only_talked_ones_per_operator(
    dial_pass, db, tenants, created
):
    from console import wallboard

    _, queue, _ = running_campaign(tenants.alpha, contacts=2)
    first, second = operators_on(queue, 2)
    dial_pass()
    talked, unanswered = outbound_calls(tenants.alpha)
    twilio_post("answer", tenants.alpha, talked)
    twilio_post("status", tenants.alpha, talked, CallStatus="completed", CallDuration="30")
    twilio_post("status", tenants.alpha, unanswered, CallStatus="no-answer")

    board = wallboard.snapshot()

    assert [q for q in board["queues"] if q["id"] == queue.pk] == []  # listed only with calls offered
    handled = {o["id"]: o["handled"] for o in board["operators"]}
    with tenant_context(tenants.alpha):
        talked.refresh_from_db()
    by = {first.user_id: first.pk, second.user_id: second.pk}
    assert handled[by[talked.operator_id]] == 1
    assert sum(handled[pk] for pk in by.values()) == 1


def test_a_call_twilio_placed_though_its_answer_was_lost_is_not_dialled_again(
    dial_pass, db, tenants, twilio_mock, monkeypatch
):
    from requests.exceptions import ReadTimeout

    from telephony import gateway

    calls = gateway.client().calls
    real, made = calls.create, []

    def lost(**kwargs):
        real(**kwargs)  # Twilio placed it (Prism validated the request)...
        made.append(kwargs)
        raise ReadTimeout("read timed out")  # ...but its answer never came

    def listed(**filters):
        assert (filters["to"], filters["from_"]) == (phones[0], made[0]["from_"])
        return [SimpleNamespace(sid=placed_sid, date_created=timezone.now())]

    placed_sid = sid()
    monkeypatch.setattr(calls, "create", lost)
    monkeypatch.setattr(calls, "page", listed)
    _, queue, phones = running_campaign(tenants.alpha, contacts=1, retry_failed_minutes=10)
    (operator,) = operators_on(queue, 1)

    dial_pass()

    assert len(made) == 1
    operator.refresh_from_db()
    assert operator.state == "on_call"  # the call goes on, with the operator
    with tenant_context(tenants.alpha):
        (call,) = Call.objects.filter(direction="outbound")
        assert (call.call_sid, call.outcome) == (placed_sid, "")
        assert CampaignContact.objects.get(phone=phones[0]).state == "in_progress"


def test_a_call_whose_request_never_went_out_is_not_looked_for_at_twilio(
    dial_pass, db, tenants, twilio_mock, monkeypatch
):
    from requests.exceptions import ConnectTimeout

    from telephony import gateway

    calls = gateway.client().calls

    def never_sent(**kwargs):
        raise ConnectTimeout("connect timed out")

    def listed(**filters):
        raise AssertionError("a request never sent placed no call: nothing to look for")

    monkeypatch.setattr(calls, "create", never_sent)
    monkeypatch.setattr(calls, "page", listed)
    _, queue, _ = running_campaign(tenants.alpha, contacts=1, retry_failed_minutes=10)
    (operator,) = operators_on(queue, 1)

    dial_pass()

    operator.refresh_from_db()
    assert operator.state == "available"
    with tenant_context(tenants.alpha):
        (call,) = Call.objects.filter(direction="outbound")
        assert call.outcome == "failed"


# A booked callback follows the one rule of every callback (outbound.rules.CallbackRule) ----------


def _booked_callback(tenant, queue: Queue, caller: str) -> Callback:
    with tenant_context(tenant):
        earlier = CallFactory(from_number=caller, outcome="callback_requested", outcome_at=timezone.now())
        return CallbackFactory(call=earlier, reason="requested", queue_id=queue.pk)


def _events(tenant, callback: Callback, kind: str) -> list[dict]:
    with tenant_context(tenant):
        return list(
            Call.objects.get(pk=callback.call_id).events.filter(kind=kind).values_list("data", flat=True)
        )


def test_a_booked_callback_is_called_over_a_do_not_call_entry_older_than_the_request(
    dial_pass, db, tenants, created, called_number
):
    """Before: any entry, however old, cancelled it; asking for the callback is consent."""
    queue = Queue.objects.create(tenant=tenants.alpha, name="cb-" + sid()[-6:])
    operators_on(queue, 1)
    caller = phone()
    with tenant_context(tenants.alpha):
        DoNotCall.objects.create(phone=caller, reason="an old campaign's opt-out")
        DoNotCall.objects.filter(phone=caller).update(at=timezone.now() - dt.timedelta(days=30))
    PlatformDoNotCall.objects.create(phone=caller, reason="old")
    PlatformDoNotCall.objects.filter(phone=caller).update(at=timezone.now() - dt.timedelta(days=30))
    callback = _booked_callback(tenants.alpha, queue, caller)
    (reserved,) = dial_pass()
    assert dialer.place_call(tenant=tenants.alpha, call_id=reserved.call_id)
    assert [c["to"] for c in created] == [caller]
    with tenant_context(tenants.alpha):
        assert Callback.objects.get(pk=callback.pk).state == "dialing"


def test_a_booked_callback_is_cancelled_by_a_do_not_call_entry_added_after_the_request(
    dial_pass, db, tenants, created, called_number
):
    queue = Queue.objects.create(tenant=tenants.alpha, name="cb-" + sid()[-6:])
    operators_on(queue, 1)
    caller = phone()
    callback = _booked_callback(tenants.alpha, queue, caller)
    with tenant_context(tenants.alpha):
        DoNotCall.objects.create(phone=caller, reason="asked by e-mail")
    assert dial_pass() == [] and created == []
    with tenant_context(tenants.alpha):
        assert Callback.objects.get(pk=callback.pk).state == "cancelled"
    (event,) = _events(tenants.alpha, callback, "callback_cancelled")
    assert event["reason"] == "on a do-not-call list since the callback was asked for"


def test_a_claim_reads_the_callback_rule_and_the_default_queue_once_whatever_the_callbacks_it_skips(
    dial_pass, db, tenants, created, called_number
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from telephony.calls.models import TelephonySettings

    queue = Queue.objects.create(tenant=tenants.alpha, name="cb-" + sid()[-6:])
    operators_on(queue, 1)
    skipped = [_booked_callback(tenants.alpha, queue, phone()) for _ in range(3)]
    taken = _booked_callback(tenants.alpha, queue, phone())
    with tenant_context(tenants.alpha):
        TelephonySettings.current()  # made before the claim, as in any company at work
        for callback in skipped:
            DoNotCall.objects.create(phone=callback.phone, reason="asked by e-mail")

    with CaptureQueriesContext(connection) as queries:
        (reserved,) = dial_pass()

    with tenant_context(tenants.alpha):
        assert Call.objects.get(pk=reserved.call_id).try_of_id == taken.pk
        assert set(
            Callback.objects.filter(pk__in=[c.pk for c in skipped]).values_list("state", flat=True)
        ) == {"cancelled"}
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum('FROM "outbound_donotcall"' in q for q in sql) == 1  # was one per callback looked at
    assert sum('FROM "telephony_platformdonotcall"' in q for q in sql) == 1
    assert sum('FROM "calls_telephonysettings"' in q for q in sql) == 1
    filters = [q.split("WHERE")[-1].split("ORDER BY")[0] for q in sql if 'FROM "telephony_queue"' in q]
    assert not [f for f in filters if '"is_default"' in f]  # the pass's index said which is the default


def test_a_do_not_call_entry_added_while_the_operator_previews_cancels_the_callback(
    dial_pass, db, tenants, created, called_number
):
    queue = Queue.objects.create(tenant=tenants.alpha, name="cb-" + sid()[-6:])
    (operator,) = operators_on(queue, 1)
    caller = phone()
    callback = _booked_callback(tenants.alpha, queue, caller)
    (reserved,) = dial_pass()
    PlatformDoNotCall.objects.create(phone=caller, reason="regulator's list")
    with pytest.raises(dialer.DialError, match="do-not-call"):
        dialer.place_call(tenant=tenants.alpha, call_id=reserved.call_id)
    assert created == []
    assert OperatorProfile.objects.get(pk=operator.pk).state == "available"
    with tenant_context(tenants.alpha):
        assert Callback.objects.get(pk=callback.pk).state == "cancelled"
    assert len(_events(tenants.alpha, callback, "callback_cancelled")) == 1


def test_outside_the_calling_hours_a_booked_callback_waits_for_the_next_opening_in_the_company_zone(
    dial_pass, db, tenants, created, called_number, settings
):
    """Before: booked callbacks had no calling hours; now the same as those keeping their place."""
    import zoneinfo

    from telephony.calls.models import TelephonySettings

    settings.CALLBACK_CALLING_HOURS = "08:00-21:00"
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    with tenant_context(tenants.alpha):
        TelephonySettings.current()
        TelephonySettings.objects.update(timezone="Asia/Tokyo")
    queue = Queue.objects.create(tenant=tenants.alpha, name="cb-" + sid()[-6:])
    operators_on(queue, 1)
    callback = _booked_callback(tenants.alpha, queue, phone())
    late = (timezone.now() + dt.timedelta(days=1)).astimezone(tokyo).replace(hour=23, minute=30)
    assert dial_pass(now=late) == [] and created == []
    opening = (late + dt.timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    with tenant_context(tenants.alpha):
        callback.refresh_from_db()
    assert (callback.state, callback.due_at, callback.attempts) == ("open", opening, 0)  # not a try
    (event,) = _events(tenants.alpha, callback, "callback_postponed")
    assert event["reason"] == "outside the calling hours"
    assert dt.datetime.fromisoformat(event["until"]) == opening
    # At the opening it is dialled.
    (reserved,) = dial_pass(now=opening)
    assert dialer.place_call(tenant=tenants.alpha, call_id=reserved.call_id, now=opening)
    assert len(created) == 1
