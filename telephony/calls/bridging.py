"""An accepted call reaches its operator: the call record learns who answered, Twilio bridges it."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from telephony import gateway, routing
from telephony.calls.models import Call, TelephonySettings
from telephony.calls.records import add_event
from telephony.routing_models import Reservation, WaitingCall


def operator_identity(user_id: int) -> str:
    """The operator's browser phone as Twilio knows it (the Voice SDK token carries the same)."""
    return f"operator-{user_id}"


def record_answer(*, waiting_call_id: int) -> tuple[WaitingCall, bool] | None:
    """Write who answered, and when, into the tenant's call record; ``(waiting call, record?)``.

    Runs as soon as the accept commits, in the process that accepted, so the console's next
    step (script answers, wrap-up) always finds the answer recorded; and again in the bridge
    task, where it changes nothing. None when there is nothing to bridge.
    """
    waiting = (
        WaitingCall.objects.select_related("tenant", "operator__user").filter(pk=waiting_call_id).first()
    )
    if waiting is None or waiting.operator is None or waiting.state != WaitingCall.State.BRIDGED:
        return None
    user = waiting.operator.user
    offered = (
        Reservation.objects.filter(call=waiting, operator=waiting.operator).order_by("-offered_at").first()
    )
    answered = waiting.answered_at or timezone.now()
    with tenant_context(waiting.tenant):
        call = Call.objects.filter(call_sid=waiting.call_sid).first()
        if call is None:
            return None
        with transaction.atomic():
            Call.objects.filter(pk=call.pk, answered_at__isnull=True).update(
                answered_at=answered,
                offered_at=offered.offered_at if offered else answered,
                operator_id=user.pk,
                operator_name=user.get_full_name() or user.username,
                wait_seconds=max(0, int((answered - (call.queued_at or answered)).total_seconds())),
            )
            add_event(call, "bridged", dedupe=f"bridged:{user.pk}", operator=user.username)
        record = TelephonySettings.current().record_calls
    return waiting, record


def bridge(*, waiting_call_id: int) -> bool:
    """Record the answer (if the accept has not already), then move the caller to the operator.

    Safe to run twice: the second time Twilio refuses the update (already dequeued) and we
    treat that as done. If the caller hung up meanwhile, the router is told the call is gone.
    """
    answered = record_answer(waiting_call_id=waiting_call_id)
    if answered is None:
        return False
    waiting, record = answered
    delivered = gateway.bridge_to_operator(
        call_sid=waiting.call_sid, identity=operator_identity(waiting.operator.user_id), record=record
    )
    if not delivered:
        routing.leave(call_sid=waiting.call_sid, outcome="gone before the bridge")
    return delivered
