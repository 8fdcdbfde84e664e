"""The ways out of the IVR as the caller hears them and as reports count them: hand-over to an
operator, transfer to a specialist, after hours."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Role
from scripts_engine import lifecycle
from scripts_engine.models import Specialist
from telephony.calls.models import Call, TelephonySettings
from telephony.models import Queue
from tests.conftest import make_user
from tests.scripts_engine.conftest import active_script, seed_lists
from tests.telephony.calls_kit import incoming
from tests.telephony.helpers import make_operator
from tests.twilio_kit import check_twiml, signed_post


@pytest.fixture
def queue(db, tenants) -> Queue:
    queue, _ = Queue.objects.get_or_create(tenant=tenants.alpha, is_default=True, defaults={"name": "Main"})
    make_operator({queue: 1}, state="wrap_up")
    return queue


def _post(path: str, sid: str, to: str, **fields: str):
    response = signed_post(path, {"CallSid": sid, "To": to, **fields})
    assert response.status_code == 200, response.content
    return response


def _said(root) -> str:
    return " ".join(el.text or "" for el in root.iter("Say"))


def test_the_ivr_hand_over_speaks_its_own_text_never_the_operators_script(db, tenants, queue, alpha_number):
    """Before: the caller heard the operator's next step ("Note their feedback")."""
    active_script(tenants.alpha, sample="survey", name="Survey IVR")
    response, params = incoming(alpha_number)
    action = check_twiml(response.content).find("Gather").get("action")
    root = check_twiml(_post(action, params["CallSid"], alpha_number, Digits="0").content)
    assert [el.tag for el in root] == ["Say", "Enqueue"]
    said = _said(root)
    assert "Please hold, an operator will be with you shortly." in said
    assert "Note their feedback" not in said and "operator during the survey" not in said
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=params["CallSid"])
        assert call.queued_at is not None and call.events.filter(kind="ivr_handover").count() == 1


IVR_TRANSFER = {
    "format": 1,
    "title": "Billing line",
    "start": "menu",
    "dispositions": ["transferred"],
    "specialists": ["billing"],
    "nodes": {
        "menu": {
            "kind": "automatic",
            "prompt": "For billing, press 1.",
            "options": [{"digits": "1", "speech": ["billing"], "value": "billing", "next": "to_billing"}],
            "timeout_next": "bye",
        },
        "to_billing": {
            "kind": "transfer",
            "text": "Putting you through to billing.",
            "specialist": "billing",
            "disposition": "transferred",
        },
        "bye": {"kind": "end", "text": "Goodbye!", "disposition": "transferred"},
    },
}


def _ivr_transfer_script(tenant) -> None:
    seed_lists(tenant, IVR_TRANSFER)
    editor = make_user(tenant, role=Role.CLIENT_ADMIN)
    manager = make_user(None, role=Role.ACCOUNT_MANAGER)
    with tenant_context(tenant):
        version = lifecycle.script_create(
            name="Billing line", purpose="inbound", graph=IVR_TRANSFER, by=editor
        )
        lifecycle.version_submit(version=version, by=editor)
        lifecycle.version_approve(version=version, by=manager)
        lifecycle.version_activate(version=version, by=manager)


def test_a_specialist_who_took_an_ivr_transfer_makes_it_transferred_with_talk_time(
    db, tenants, queue, alpha_number
):
    """Before: answered and 40 s of talk with the specialist, then recorded as abandoned."""
    _ivr_transfer_script(tenants.alpha)
    response, params = incoming(alpha_number)
    sid = params["CallSid"]
    action = check_twiml(response.content).find("Gather").get("action")
    root = check_twiml(_post(action, sid, alpha_number, Digits="1").content)
    dial = root.find("Dial")
    assert dial is not None and dial.find("Number").text.startswith("+4930")
    done = _post(
        dial.get("action"), sid, alpha_number, DialCallStatus="completed", DialCallDuration="40",
        DialCallSid="CA" + "5" * 32,
    )  # fmt: skip
    check_twiml(done.content)
    status = {"CallSid": sid, "To": alpha_number, "CallStatus": "completed", "CallDuration": "55"}
    ended = signed_post("/twilio/voice/status", status)
    assert ended.status_code == 204
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=sid)
        assert call.outcome == Call.Outcome.TRANSFERRED
        assert call.transferred_to == "billing" and call.talk_seconds == 40
        assert call.duration_seconds == 55
        assert call.events.get(kind="outcome").data["specialist"] == "billing"


def test_a_specialist_who_did_not_answer_leaves_a_voicemail_not_a_transfer(db, tenants, queue, alpha_number):
    _ivr_transfer_script(tenants.alpha)
    response, params = incoming(alpha_number)
    sid = params["CallSid"]
    action = check_twiml(response.content).find("Gather").get("action")
    dial = check_twiml(_post(action, sid, alpha_number, Digits="1").content).find("Dial")
    root = check_twiml(_post(dial.get("action"), sid, alpha_number, DialCallStatus="no-answer").content)
    assert root.find("Record") is not None
    with tenant_context(tenants.alpha):
        assert Call.objects.get(call_sid=sid).outcome == ""


@pytest.mark.parametrize("choice", ["1", "2"])
def test_the_wait_of_a_caller_who_left_for_a_callback_or_a_message_is_twilios_queue_time(
    db, tenants, queue, alpha_number, choice
):
    """Before: the wait ran to the hang-up (9 s recorded against Twilio's QueueTime of 3 s)."""
    response, params = incoming(alpha_number)
    sid = params["CallSid"]
    assert [el.tag for el in check_twiml(response.content)] == ["Say", "Enqueue"]
    with tenant_context(tenants.alpha):
        Call.objects.filter(call_sid=sid).update(queued_at=timezone.now() - dt.timedelta(seconds=9))
    _post("/twilio/voice/wait-key?t=t_alpha", sid, alpha_number, Digits="*")
    options = check_twiml(
        _post(
            "/twilio/voice/queue-result?t=t_alpha", sid, alpha_number, QueueResult="leave", QueueTime="3"
        ).content
    )
    chosen = _post(options.find("Gather").get("action"), sid, alpha_number, Digits=choice)
    if choice == "1":  # the number to call back: the caller ID, confirmed
        _post(check_twiml(chosen.content).find("Gather").get("action"), sid, alpha_number, Digits="1")
    if choice == "2":
        _post("/twilio/voice/voicemail?t=t_alpha", sid, alpha_number, RecordingUrl="https://api.twilio.com/r/RE1",
              RecordingDuration="4")  # fmt: skip
    signed_post("/twilio/voice/status", {"CallSid": sid, "To": alpha_number, "CallStatus": "completed"})
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=sid)
        assert call.outcome == (Call.Outcome.CALLBACK_REQUESTED if choice == "1" else Call.Outcome.VOICEMAIL)
        assert call.wait_seconds == 3


def test_without_queue_time_the_wait_ends_when_the_caller_left_the_queue(db, tenants, queue, alpha_number):
    _, params = incoming(alpha_number)
    sid = params["CallSid"]
    with tenant_context(tenants.alpha):
        Call.objects.filter(call_sid=sid).update(queued_at=timezone.now() - dt.timedelta(seconds=5))
    _post("/twilio/voice/queue-result?t=t_alpha", sid, alpha_number, QueueResult="leave")
    with tenant_context(tenants.alpha):
        Call.objects.filter(call_sid=sid).update(queued_at=timezone.now() - dt.timedelta(seconds=60))
    signed_post("/twilio/voice/status", {"CallSid": sid, "To": alpha_number, "CallStatus": "completed"})
    with tenant_context(tenants.alpha):
        assert Call.objects.get(call_sid=sid).wait_seconds in (5, 6)


def _closed(tenant, behaviour: str, message: str | None = None) -> None:
    with tenant_context(tenant):
        settings = TelephonySettings.current()
        settings.business_hours = {str(d): [] for d in range(7)}  # closed every day
        settings.after_hours = behaviour
        if message is not None:
            settings.after_hours_message = message
        settings.save()


@pytest.mark.parametrize("behaviour", ["callback", "queue"])
def test_the_default_after_hours_text_asks_for_a_message_only_before_a_voicemail(
    db, tenants, queue, alpha_number, behaviour
):
    """Before: "leave a message after the tone" before a hang-up (callback) or an enqueue."""
    _closed(tenants.alpha, behaviour)
    response, _ = incoming(alpha_number)
    root = check_twiml(response.content)
    said = _said(root)
    assert "closed" in said and "tone" not in said and "leave a message" not in said
    if behaviour == "callback":
        assert [el.tag for el in root] == ["Say", "Hangup"] and "call you back" in said
    else:
        assert [el.tag for el in root] == ["Say", "Enqueue"] and "operator" in said


def test_the_default_after_hours_text_is_said_before_the_voicemail(db, tenants, queue, alpha_number):
    _closed(tenants.alpha, "voicemail")
    root = check_twiml(incoming(alpha_number)[0].content)
    assert [el.tag for el in root][:2] == ["Say", "Record"]
    assert root.find("Say").text == "We are closed now. Please leave a message after the tone."


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("voicemail", "Closed for the holidays."),
        ("queue", "Closed for the holidays."),
        ("callback", "Closed for the holidays. We will call you back. Goodbye."),
    ],
)
def test_a_companys_own_after_hours_text_is_said_as_written(
    db, tenants, queue, alpha_number, behaviour, expected
):
    _closed(tenants.alpha, behaviour, message="Closed for the holidays.")
    root = check_twiml(incoming(alpha_number)[0].content)
    assert root.find("Say").text == expected


def test_an_ivr_transfer_outside_the_specialists_hours_goes_to_an_operator(db, tenants, queue, alpha_number):
    """Before: the caller was rung through to a desk that was closed."""
    _ivr_transfer_script(tenants.alpha)
    with tenant_context(tenants.alpha):
        settings = TelephonySettings.current()
        weekday = timezone.now().astimezone(zoneinfo.ZoneInfo(settings.timezone or "UTC")).weekday()
        Specialist.objects.filter(key="billing").update(hours={str((weekday + 1) % 7): [["00:00", "23:59"]]})
    response, params = incoming(alpha_number)
    action = check_twiml(response.content).find("Gather").get("action")
    root = check_twiml(_post(action, params["CallSid"], alpha_number, Digits="1").content)
    assert root.find("Dial") is None and root.find("Enqueue") is not None
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=params["CallSid"])
        assert call.transferred_to == ""
        skipped = call.events.get(kind="transfer_skipped")
        assert skipped.data["specialist"] == "billing"
