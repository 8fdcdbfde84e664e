"""A preview handed to an operator whose console went away before they dialled goes back to its
campaign at once (telephony's presence sweep announces it; outbound gives it back), and the
operator goes offline: not left on call with nobody (issue 22's ghost operators)."""

from __future__ import annotations

import time

from django.utils import timezone
from django_tenants.utils import tenant_context

from outbound import dialer
from outbound.models import CampaignContact
from telephony import console_presence
from telephony.calls.models import Call
from telephony.models import OperatorProfile, Reservation, WaitingCall
from tests.outbound.dialer_kit import operators_on, running_campaign, spy_calls_create


def test_a_preview_whose_operator_console_vanished_goes_back_and_the_operator_offline(
    db, tenants, presence, monkeypatch, twilio_mock, django_capture_on_commit_callbacks
):
    created = spy_calls_create(monkeypatch)
    _campaign, queue, phones = running_campaign(tenants.alpha, contacts=1, mode="preview")
    (operator,) = operators_on(queue, 1)
    (reserved,) = dialer.unscoped_dial_pass(operator_ids=[operator.pk])
    assert OperatorProfile.objects.get(pk=operator.pk).state == "on_call"
    now = time.time()
    console_presence.beat(operator_id=operator.pk, channel="c", node="n", now=now - 30)
    with django_capture_on_commit_callbacks(execute=True):
        gone = console_presence.sweep(now=now)
    assert gone == [operator.pk]
    operator.refresh_from_db()
    assert operator.state == "offline"  # not offered the work again: nobody is there
    assert Reservation.objects.get(pk=reserved.reservation_id).state == "cancelled"
    assert not WaitingCall.objects.filter(state="bridged", operator=operator).exists()
    with tenant_context(tenants.alpha):
        entry = CampaignContact.objects.get(phone=phones[0])
        assert entry.state == "pending" and entry.attempts == 0
        assert entry.next_due_at is None or entry.next_due_at <= timezone.now()  # due again now
        assert not Call.objects.filter(pk=reserved.call_id).exists()
    assert created == []
    with django_capture_on_commit_callbacks(execute=True):
        assert console_presence.sweep(now=time.time()) == []  # once


def test_an_outbound_call_already_placed_keeps_its_operator(
    db, tenants, presence, monkeypatch, twilio_mock, django_capture_on_commit_callbacks
):
    spy_calls_create(monkeypatch)
    _campaign, queue, _phones = running_campaign(tenants.alpha, contacts=1, mode="preview")
    (operator,) = operators_on(queue, 1)
    (reserved,) = dialer.unscoped_dial_pass(operator_ids=[operator.pk])
    assert dialer.place_call(tenant=tenants.alpha, call_id=reserved.call_id)
    now = time.time()
    console_presence.beat(operator_id=operator.pk, channel="c", node="n", now=now - 30)
    with django_capture_on_commit_callbacks(execute=True):
        assert console_presence.sweep(now=now) == []
    assert OperatorProfile.objects.get(pk=operator.pk).state == "on_call"  # the call is ringing
    with tenant_context(tenants.alpha):
        assert Call.objects.filter(pk=reserved.call_id).exists()
