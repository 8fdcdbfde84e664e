"""Issue 22: an outbound call whose final status callback was lost is reconciled with Twilio (the
real client against Prism, which says every call is ``completed`` after 4 s) and finished as the
callback would have: outcome, times, the campaign contact's attempt result, the operator freed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.utils import timezone
from django_tenants.utils import tenant_context

from outbound import dialer
from outbound.models import Attempt, CampaignContact
from telephony import reconcile
from telephony.calls.models import Call, Callback
from telephony.models import OperatorProfile, PhoneNumber, Queue, WaitingCall
from tests.factories import CallbackFactory, CallFactory
from tests.outbound.dialer_kit import (
    operators_on,
    outbound_calls,
    phone,
    running_campaign,
    spy_calls_create,
    twilio_post,
)
from tests.telephony.helpers import sid


@pytest.fixture
def created(monkeypatch, twilio_mock):
    return spy_calls_create(monkeypatch)


def _age(tenant, call: Call, minutes: int) -> None:
    """Nothing happened to the call for ``minutes`` (and it was not asked about lately)."""
    back = dt.timedelta(minutes=minutes)
    with tenant_context(tenant):
        call.refresh_from_db()
        fields = {
            name: getattr(call, name) - back
            for name in ("started_at", "placed_at", "queued_at", "offered_at", "answered_at")
            if getattr(call, name) is not None
        }
        Call.objects.filter(pk=call.pk).update(**fields)
        cache.delete(f"reconcile:asked:{call.call_sid}")


def _reconcile(tenant, capture) -> dict[str, int]:
    now = timezone.now()
    with tenant_context(tenant), capture(execute=True):
        return reconcile.reconcile_company(now=now)


def test_a_ringing_campaign_call_whose_final_callback_was_lost_frees_the_operator_and_counts_the_attempt(
    db, tenants, created, django_capture_on_commit_callbacks
):
    campaign, queue, phones = running_campaign(tenants.alpha, contacts=1)
    (operator,) = operators_on(queue, 1)
    dialer.unscoped_dial_pass(operator_ids=[operator.pk])
    (call,) = outbound_calls(tenants.alpha)
    twilio_post("status", tenants.alpha, call, CallStatus="ringing")
    assert OperatorProfile.objects.get(pk=operator.pk).state == "on_call"
    _age(tenants.alpha, call, minutes=5)

    assert _reconcile(tenants.alpha, django_capture_on_commit_callbacks) == {"finished": 1}

    assert OperatorProfile.objects.get(pk=operator.pk).state == "available"  # nobody was connected
    assert WaitingCall.objects.get(call_sid=call.call_sid).state == WaitingCall.State.LEFT
    with tenant_context(tenants.alpha):
        call.refresh_from_db()
        assert (call.status, call.outcome, call.duration_seconds) == ("completed", "failed", 4)
        assert call.ended_at is not None and call.events.filter(kind="reconciled").count() == 1
        entry = CampaignContact.objects.get(phone=phones[0])
        assert entry.attempts == 1 and entry.last_outcome == "no-answer" and entry.state == "pending"
        assert Attempt.objects.get(campaign=campaign).outcome == "no-answer"
    assert _reconcile(tenants.alpha, django_capture_on_commit_callbacks) == {}  # finished: nothing left


def test_an_answered_campaign_call_whose_final_callback_was_lost_ends_and_its_operator_wraps_up(
    db, tenants, created, django_capture_on_commit_callbacks
):
    campaign, queue, _phones = running_campaign(tenants.alpha, contacts=1)
    (operator,) = operators_on(queue, 1)
    dialer.unscoped_dial_pass(operator_ids=[operator.pk])
    (call,) = outbound_calls(tenants.alpha)
    twilio_post("answer", tenants.alpha, call, AnsweredBy="human")
    _age(tenants.alpha, call, minutes=5)
    assert _reconcile(tenants.alpha, django_capture_on_commit_callbacks) == {}  # talking: 10 minutes
    _age(tenants.alpha, call, minutes=10)

    assert _reconcile(tenants.alpha, django_capture_on_commit_callbacks) == {"finished": 1}

    assert OperatorProfile.objects.get(pk=operator.pk).state == "wrap_up"
    assert WaitingCall.objects.get(call_sid=call.call_sid).state == WaitingCall.State.LEFT
    with tenant_context(tenants.alpha):
        call.refresh_from_db()
        assert (call.status, call.duration_seconds) == ("completed", 4) and call.ended_at is not None
        assert Attempt.objects.get(campaign=campaign).outcome == "answered"


def test_a_preview_not_dialled_yet_is_not_asked_of_twilio(
    db, tenants, created, django_capture_on_commit_callbacks
):
    _campaign, queue, _phones = running_campaign(tenants.alpha, contacts=1, mode="preview")
    (operator,) = operators_on(queue, 1)
    dialer.unscoped_dial_pass(operator_ids=[operator.pk])
    (call,) = outbound_calls(tenants.alpha)
    _age(tenants.alpha, call, minutes=4)  # the dialer gives it back after 5 minutes, not Twilio

    assert _reconcile(tenants.alpha, django_capture_on_commit_callbacks) == {}

    assert OperatorProfile.objects.get(pk=operator.pk).state == "on_call"
    with tenant_context(tenants.alpha):
        call.refresh_from_db()
        assert call.ended_at is None and not call.outcome


def test_a_ringing_callback_whose_final_callback_was_lost_is_due_again_and_its_operator_freed(
    db, tenants, created, django_capture_on_commit_callbacks
):
    PhoneNumber.objects.get_or_create(  # the number the earlier call dialled (the factory's)
        number="+15550199001", defaults={"tenant": tenants.alpha, "state": PhoneNumber.State.ASSIGNED}
    )
    queue = Queue.objects.create(tenant=tenants.alpha, name="cb-" + sid()[-6:])
    (operator,) = operators_on(queue, 1)
    with tenant_context(tenants.alpha):
        earlier = CallFactory(from_number=phone())
        callback = CallbackFactory(call=earlier, reason="abandoned", queue_id=queue.pk)
    (reserved,) = dialer.unscoped_dial_pass(operator_ids=[operator.pk])
    assert dialer.place_call(tenant=tenants.alpha, call_id=reserved.call_id)
    with tenant_context(tenants.alpha):
        call = Call.objects.get(pk=reserved.call_id)
    twilio_post("status", tenants.alpha, call, CallStatus="ringing")
    _age(tenants.alpha, call, minutes=5)

    assert _reconcile(tenants.alpha, django_capture_on_commit_callbacks) == {"finished": 1}

    assert OperatorProfile.objects.get(pk=operator.pk).state == "available"
    with tenant_context(tenants.alpha):
        callback.refresh_from_db()
        assert (callback.state, callback.attempts) == (Callback.State.OPEN, 1)  # tried again later
        assert callback.due_at > timezone.now()
        call.refresh_from_db()
        assert call.ended_at is not None and call.outcome == "failed"
