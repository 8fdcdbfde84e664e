"""The end of a call on the console: the disposition, the note and the wrap-up time (R16), then
available again or not."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from console.access import ConsoleError, access_reservation, live_call
from console.controls import end_call
from scripts_engine.models import Disposition
from telephony import routing
from telephony.calls.models import Call
from telephony.calls.records import add_event
from telephony.operators import InvalidTransition
from telephony.routing_models import OperatorState, Reservation


def wrap_up(
    *, reservation_id: int, operator, disposition: str, note: str = "", then: str = "available",
    now: datetime | None = None,
) -> None:  # fmt: skip
    """Store the disposition, the note and the wrap-up time on the call; then available or not."""
    now = now or timezone.now()
    reservation = access_reservation(operator=operator, reservation_id=reservation_id)
    if reservation.state == Reservation.State.ACCEPTED:
        end_call(reservation_id=reservation_id, operator=operator)
        reservation.refresh_from_db()
    if then == OperatorState.AVAILABLE and _on_another_call(operator, reservation):
        raise ConsoleError(ON_ANOTHER_CALL)
    with tenant_context(reservation.call.tenant), transaction.atomic():
        call = live_call(reservation)
        known = Disposition.objects.filter(code=disposition).exists()
        if not known and (disposition or Disposition.objects.exists()):
            raise ConsoleError("Choose a disposition from the list.")  # none to choose: none needed
        started = call.ended_at or reservation.closed_at or now
        seconds = max(0, int((now - started).total_seconds()))
        Call.objects.filter(pk=call.pk, wrapup_ended_at__isnull=True).update(
            disposition=disposition, wrapup_seconds=seconds, wrapup_ended_at=now
        )
        add_event(call, "wrap_up", dedupe="wrap_up", at=now, disposition=disposition,
                  note=note.replace("\x00", "")[:2000], by=operator.username)  # fmt: skip
    if then == OperatorState.AVAILABLE:
        try:
            routing.operator_set_state(operator=operator, state=OperatorState.AVAILABLE)
        except InvalidTransition as refused:  # a new call was taken meanwhile: the wrap-up is kept
            raise ConsoleError(f"Wrap-up saved. {ON_ANOTHER_CALL}") from refused


ON_ANOTHER_CALL = (
    "You are on another call now, so you cannot become available: save this wrap-up without "
    "'available', or after that call."
)


def _on_another_call(operator, reservation: Reservation) -> bool:
    """Whether the operator has taken a call other than this reservation's (then not available)."""
    return (
        Reservation.objects.filter(operator__user=operator, state=Reservation.State.ACCEPTED)
        .exclude(pk=reservation.pk)
        .exists()
    )
