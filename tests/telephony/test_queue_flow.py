"""The caller's wait: enqueue, expected wait, leaving by choice or past the maximum, abandoning."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from telephony.calls import callback_offer
from telephony.calls.models import Call, Callback
from telephony.models import Queue, WaitingCall
from tests.telephony.calls_kit import incoming
from tests.telephony.helpers import make_operator
from tests.twilio_kit import check_twiml, signed_post, verbs


@pytest.fixture
def queue(db, tenants) -> Queue:
    queue, _ = Queue.objects.get_or_create(tenant=tenants.alpha, is_default=True, defaults={"name": "Main"})
    make_operator({queue: 1}, state="wrap_up")  # staffed, though nobody is free yet
    return queue


def _post(path: str, sid: str, to: str, **fields: str):
    response = signed_post(path, {"CallSid": sid, "To": to, **fields})
    assert response.status_code == 200, response.content
    return response


def test_without_an_automatic_script_the_call_is_enqueued_once(db, tenants, queue, alpha_number):
    sid = "CA" + "e" * 32
    first, _ = incoming(alpha_number, sid=sid)
    again, _ = incoming(alpha_number, sid=sid)
    root = check_twiml(first.content)
    enqueue = root.find("Enqueue")
    assert enqueue.text == f"{tenants.alpha.schema_name}-{queue.pk}"
    assert enqueue.get("waitUrl").startswith("/twilio/voice/wait?t=")
    assert enqueue.get("action").startswith("/twilio/voice/queue-result?t=")
    assert first.content == again.content
    assert WaitingCall.objects.filter(call_sid=sid).count() == 1
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=sid)
        assert call.queued_at is not None and call.queue_id == queue.pk
        assert call.events.filter(kind="queued").count() == 1


def test_each_wait_turn_tells_position_and_expected_wait_then_plays_music(db, tenants, queue, alpha_number):
    _, params = incoming(alpha_number)
    root = check_twiml(
        _post("/twilio/voice/wait?t=t_alpha", params["CallSid"], alpha_number, QueueTime="12").content
    )
    said = root.find("Gather").find("Say").text
    assert said.startswith("You are number 1 in line. The expected wait is about")
    assert [el.tag for el in root] == ["Gather"]  # the music inside: the key works all through it
    assert [el.tag for el in root.find("Gather")] == ["Say", "Play"]


def test_a_caller_out_of_line_a_moment_ago_is_not_told_a_place(db, tenants, queue, alpha_number):
    """Taken by an operator (or out of the router's line) while Twilio still plays the wait: no
    "number 0 in line", and the callback offer says "soon", not "in about 1 minute"."""
    _, params = incoming(alpha_number)
    sid = params["CallSid"]
    WaitingCall.objects.filter(call_sid=sid).update(state=WaitingCall.State.LEFT, left_at=timezone.now())
    root = check_twiml(_post("/twilio/voice/wait?t=t_alpha", sid, alpha_number, QueueTime="12").content)
    assert root.find("Gather").find("Say").text == "Please stay on the line."
    with tenant_context(tenants.alpha):
        assert callback_offer.roughly_when(Call.objects.get(call_sid=sid)) == "soon"


def test_past_the_maximum_wait_the_caller_leaves_and_chooses_a_callback(db, tenants, queue, alpha_number):
    Queue.objects.filter(pk=queue.pk).update(max_wait=60)
    _, params = incoming(alpha_number)
    sid = params["CallSid"]
    waiting = WaitingCall.objects.get(call_sid=sid)
    assert verbs(_post("/twilio/voice/wait?t=t_alpha", sid, alpha_number, QueueTime="61").content) == [
        "Leave"
    ]
    options = check_twiml(
        _post("/twilio/voice/queue-result?t=t_alpha", sid, alpha_number, QueueResult="leave").content
    )
    assert options.find("Gather") is not None and options.find("Redirect") is not None  # silence never drops
    confirm = check_twiml(_post(options.find("Gather").get("action"), sid, alpha_number, Digits="1").content)
    done = _post(confirm.find("Gather").get("action"), sid, alpha_number, Digits="1")
    assert verbs(done.content) == ["Say", "Hangup"]
    kept = WaitingCall.objects.get(pk=waiting.pk)  # the callback keeps the caller's place (R13)
    assert (kept.state, kept.kind, kept.enqueued_at) == ("waiting", "callback", waiting.enqueued_at)
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=sid)
        assert call.outcome == Call.Outcome.CALLBACK_REQUESTED
        callback = Callback.objects.get(call=call)
        assert callback.reason == Callback.Reason.REQUESTED and callback.keeps_place


def test_a_key_during_the_wait_leads_to_voicemail(db, tenants, queue, alpha_number):
    _, params = incoming(alpha_number)
    sid = params["CallSid"]
    assert verbs(_post("/twilio/voice/wait-key?t=t_alpha", sid, alpha_number, Digits="*").content) == [
        "Leave"
    ]
    options = check_twiml(
        _post("/twilio/voice/queue-result?t=t_alpha", sid, alpha_number, QueueResult="leave").content
    )
    record = check_twiml(_post(options.find("Gather").get("action"), sid, alpha_number, Digits="2").content)
    assert record.find("Record") is not None


def test_hanging_up_in_the_queue_is_an_abandon_with_a_callback_in_business_hours(
    db, tenants, queue, alpha_number
):
    from datetime import timedelta

    _, params = incoming(alpha_number)
    sid = params["CallSid"]
    with tenant_context(tenants.alpha):
        Call.objects.filter(call_sid=sid).update(
            queued_at=Call.objects.get(call_sid=sid).queued_at - timedelta(seconds=30)
        )
    response = signed_post(
        "/twilio/voice/status", {"CallSid": sid, "To": alpha_number, "CallStatus": "completed"}
    )
    assert response.status_code == 204
    assert WaitingCall.objects.get(call_sid=sid).state == WaitingCall.State.LEFT
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=sid)
        assert call.outcome == Call.Outcome.ABANDONED and call.wait_seconds >= 30
        assert Callback.objects.get(call=call).reason == Callback.Reason.ABANDONED


def test_a_short_abandon_books_no_callback(db, tenants, queue, alpha_number):
    _, params = incoming(alpha_number)
    signed_post(
        "/twilio/voice/status", {"CallSid": params["CallSid"], "To": alpha_number, "CallStatus": "completed"}
    )
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=params["CallSid"])
        assert call.outcome == Call.Outcome.ABANDONED
        assert not Callback.objects.filter(call=call).exists()


def test_a_full_queue_offers_callback_or_voicemail_instead_of_busy(db, tenants, queue, alpha_number):
    Queue.objects.filter(pk=queue.pk).update(max_length=1)
    incoming(alpha_number)
    response, params = incoming(alpha_number, caller="+14155550111")
    root = check_twiml(response.content)
    assert root.find("Enqueue") is None and root.find("Gather") is not None
    assert not WaitingCall.objects.filter(call_sid=params["CallSid"]).exists()


def test_who_took_the_call_is_in_the_call_record_when_the_accept_returns(
    db, tenants, queue, alpha_number, django_capture_on_commit_callbacks, monkeypatch
):
    """The bridge's REST request waits for a worker; who took the call does not (the console may
    wrap up before any worker runs). It is answered only when the operator's leg joins."""
    from telephony.answering import accept_offer
    from telephony.models import Reservation
    from tests.telephony.helpers import make_operator

    sent = []
    monkeypatch.setattr("telephony.tasks.bridge_call.delay", sent.append)
    operator = make_operator({queue: 1})
    with django_capture_on_commit_callbacks(execute=True):
        _, params = incoming(alpha_number)
    offer = Reservation.objects.get(call__call_sid=params["CallSid"], state="offered")
    with django_capture_on_commit_callbacks(execute=True):
        waiting = accept_offer(reservation_id=offer.pk, operator=operator.user)
    assert sent == [waiting.pk]  # the REST request is a worker's job, not done yet
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=params["CallSid"])
        assert call.operator_id == operator.user_id and call.offered_at == offer.offered_at
        assert call.answered_at is None and call.wait_seconds is None
        assert call.events.filter(kind="accepted").count() == 1
        assert not call.events.filter(kind="bridged").exists()


def test_the_enqueue_answer_greets_then_puts_the_caller_in_the_queue(db, tenants):
    from telephony import twiml

    def answer(text: str) -> str:
        return str(
            twiml.enqueue(
                voice=twiml.Voice(voice="Polly.Joanna", language="en-GB"), text=text, queue_name="t_alpha-7",
                wait_url="/twilio/voice/wait?t=t_alpha", action="/twilio/voice/queue-result?t=t_alpha",
            )
        )  # fmt: skip

    root = check_twiml(answer("Welcome."))
    assert [(el.tag, el.text, el.get("voice"), el.get("language")) for el in root] == [
        ("Say", "Welcome.", "Polly.Joanna", "en-GB"),
        ("Enqueue", "t_alpha-7", None, None),
    ]
    assert (root[1].get("waitUrl"), root[1].get("waitUrlMethod")) == ("/twilio/voice/wait?t=t_alpha", "POST")
    assert (root[1].get("action"), root[1].get("method")) == ("/twilio/voice/queue-result?t=t_alpha", "POST")
    assert answer("Welcome.") == answer("Welcome.") and "Welcome" not in answer("Hello.")
    assert [el.tag for el in check_twiml(answer(""))] == ["Enqueue"]  # no greeting: no <Say>
