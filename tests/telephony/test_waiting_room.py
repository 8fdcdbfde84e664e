"""What a caller hears while nobody can take the call, and the wait key all through the music."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from telephony.calls.flows import NOBODY_STAFFED_MESSAGE
from telephony.calls.models import Call, Callback, TelephonySettings
from telephony.models import OperatorProfile, Queue, WaitingCall
from tests.telephony.calls_kit import incoming
from tests.telephony.helpers import make_operator, make_queue
from tests.twilio_kit import check_twiml, signed_post, verbs


@pytest.fixture
def queue(db, tenants) -> Queue:
    queue, _ = Queue.objects.get_or_create(tenant=tenants.alpha, is_default=True, defaults={"name": "Main"})
    return queue


def _post(path: str, sid: str, to: str, **fields: str):
    response = signed_post(path, {"CallSid": sid, "To": to, **fields})
    assert response.status_code == 200, response.content
    return response


def _said(root) -> str:
    return " ".join(el.text or "" for el in root.iter("Say"))


def test_with_nobody_staffed_the_caller_is_told_at_once_and_offered_the_exits(
    db, tenants, queue, alpha_number
):
    """Before: enqueued and told "about 10 minutes" (the queue's maximum) from an empty pool."""
    make_operator({queue: 1}, state="offline")
    make_operator({queue: 1}, state="break")
    make_operator({make_queue(tenants.alpha): 1}, state="available")  # free, but not for this queue
    response, params = incoming(alpha_number)
    root = check_twiml(response.content)
    assert [el.tag for el in root] == ["Gather", "Redirect"]
    said = _said(root)
    assert NOBODY_STAFFED_MESSAGE in said and "press 1" in said
    assert "expected wait" not in said and "minute" not in said
    assert not WaitingCall.objects.filter(call_sid=params["CallSid"]).exists()
    done = _post(root.find("Gather").get("action"), params["CallSid"], alpha_number, Digits="1")
    assert verbs(done.content) == ["Say", "Hangup"]
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=params["CallSid"])
        assert call.queued_at is None and call.outcome == Call.Outcome.CALLBACK_REQUESTED
        assert call.events.filter(kind="nobody_staffed").count() == 1
        assert Callback.objects.get(call=call).reason == Callback.Reason.REQUESTED


def test_an_operator_of_the_overflow_queue_staffs_it(db, tenants, queue, alpha_number):
    overflow = make_queue(tenants.alpha)
    Queue.objects.filter(pk=queue.pk).update(overflow_queue=overflow, overflow_after=30)
    make_operator({overflow: 1}, state="on_call")
    response, _ = incoming(alpha_number)
    assert verbs(response.content) == ["Say", "Enqueue"]


def test_when_the_pool_empties_during_the_wait_the_caller_is_told_and_leaves(
    db, tenants, queue, alpha_number
):
    operator = make_operator({queue: 1}, state="wrap_up")
    response, params = incoming(alpha_number)
    assert verbs(response.content) == ["Say", "Enqueue"]
    OperatorProfile.objects.filter(pk=operator.pk).update(state="offline")  # logged out meanwhile

    root = check_twiml(
        _post("/twilio/voice/wait?t=t_alpha", params["CallSid"], alpha_number, QueueTime="20").content
    )

    assert [el.tag for el in root] == ["Say", "Leave"]
    assert NOBODY_STAFFED_MESSAGE in _said(root) and "expected wait" not in _said(root)
    options = check_twiml(
        _post(
            "/twilio/voice/queue-result?t=t_alpha", params["CallSid"], alpha_number, QueueResult="leave"
        ).content
    )
    assert options.find("Gather") is not None and options.find("Redirect") is not None


def _wait(sid: str, to: str, **fields: str):
    return check_twiml(_post("/twilio/voice/wait?t=t_alpha", sid, to, QueueTime="5", **fields).content)


def _settings(tenant, **fields) -> None:
    with tenant_context(tenant):
        TelephonySettings.current()
        TelephonySettings.objects.filter(pk=1).update(**fields)


@pytest.mark.parametrize(("music", "period", "loops"), [(20, 60, 3), (30, 90, 3), (150, 60, 1), (45, 60, 1)])
def test_the_wait_key_works_all_through_the_music_announced_every_period(
    db, tenants, queue, alpha_number, music, period, loops
):
    """Before: the music played after the <Gather> (the key worked for the announcement plus 1 s)
    and the announcement came back after each play of the file, whatever the tenant wanted."""
    make_operator({queue: 1}, state="wrap_up")
    _settings(tenants.alpha, hold_music_seconds=music, wait_announcement_seconds=period)
    _, params = incoming(alpha_number)
    root = _wait(params["CallSid"], alpha_number)
    assert [el.tag for el in root] == ["Gather"]
    gather = root.find("Gather")
    assert [el.tag for el in gather] == ["Say", "Play"]
    assert gather.get("finishOnKey") == "" and gather.get("numDigits") == "1"
    assert gather.get("action").startswith("/twilio/voice/wait-key?t=t_alpha")
    assert "press star" in gather.find("Say").text
    assert gather.find("Play").get("loop") == str(loops)


@pytest.mark.parametrize("digits", ["1", "#", "0", ""])
def test_a_key_not_announced_changes_nothing_and_the_music_goes_on(db, tenants, queue, alpha_number, digits):
    """Before: any key left the queue, though the caller was told to press star."""
    make_operator({queue: 1}, state="wrap_up")
    _, params = incoming(alpha_number)
    root = check_twiml(
        _post("/twilio/voice/wait-key?t=t_alpha", params["CallSid"], alpha_number, Digits=digits).content
    )
    assert root.find("Leave") is None
    gather = root.find("Gather")
    assert [el.tag for el in gather] == ["Say", "Play"] and "press star" in gather.find("Say").text
    assert WaitingCall.objects.get(call_sid=params["CallSid"]).state == WaitingCall.State.WAITING


def test_the_announced_key_leaves_the_queue(db, tenants, queue, alpha_number):
    make_operator({queue: 1}, state="wrap_up")
    _, params = incoming(alpha_number)
    assert verbs(
        _post("/twilio/voice/wait-key?t=t_alpha", params["CallSid"], alpha_number, Digits="*").content
    ) == ["Leave"]


@pytest.mark.parametrize(("field", "value"), [("wait_announcement_seconds", 5), ("hold_music_seconds", 0)])
def test_the_announcement_period_and_music_length_are_checked(db, tenants, field, value):
    with tenant_context(tenants.alpha):
        settings = TelephonySettings.current()
        setattr(settings, field, value)
        with pytest.raises(ValidationError) as refused:
            settings.full_clean()
        assert field in refused.value.message_dict
