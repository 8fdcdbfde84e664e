"""An accepted call reaches its operator: the call record learns who answered, Twilio bridges it."""

from __future__ import annotations

from django.utils import timezone
from django_tenants.utils import tenant_context

from telephony import gateway
from telephony.calls.models import Call, TelephonySettings
from telephony.calls.records import add_event
from telephony.routing_models import Reservation, WaitingCall


def operator_identity(user_id: int) -> str:
    """The operator's browser phone as Twilio knows it (the Voice SDK token carries the same)."""
    return f"operator-{user_id}"


def bridge(*, waiting_call_id: int) -> bool:
    """Record the answer in the tenant's call record, then move the caller to the operator.

    Safe to run twice: the second time Twilio refuses the update (already dequeued) and we
    treat that as done. If the caller hung up meanwhile, the router is told the call is gone.
    """
    from telephony import routing

    waiting = (
        WaitingCall.objects.select_related("tenant", "operator__user").filter(pk=waiting_call_id).first()
    )
    if waiting is None or waiting.operator is None or waiting.state != WaitingCall.State.BRIDGED:
        return False
    user = waiting.operator.user
    offered = (
        Reservation.objects.filter(call=waiting, operator=waiting.operator).order_by("-offered_at").first()
    )
    answered = waiting.answered_at or timezone.now()
    with tenant_context(waiting.tenant):
        call = Call.objects.filter(call_sid=waiting.call_sid).first()
        if call is None:
            return False
        Call.objects.filter(pk=call.pk, answered_at__isnull=True).update(
            answered_at=answered,
            offered_at=offered.offered_at if offered else answered,
            operator_id=user.pk,
            operator_name=user.get_full_name() or user.username,
            wait_seconds=max(0, int((answered - (call.queued_at or answered)).total_seconds())),
        )
        add_event(call, "bridged", dedupe=f"bridged:{user.pk}", operator=user.username)
        record = TelephonySettings.current().record_calls
    delivered = gateway.bridge_to_operator(
        call_sid=waiting.call_sid, identity=operator_identity(user.pk), record=record
    )
    if not delivered:
        routing.leave(call_sid=waiting.call_sid, outcome="gone before the bridge")
    return delivered
