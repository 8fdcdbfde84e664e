"""What the operator console shows on (re)load, read from the database (R16): the operator's state,
the offer or call in hand, the offers missed lately."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from django_tenants.utils import tenant_context

from telephony.calls.models import Call
from telephony.operators import profile_for
from telephony.routing_models import OperatorEvent, Reservation

MISSED_WINDOW = timedelta(hours=1)


def _current_reservation(profile) -> Reservation | None:
    """The offer ringing, the call taken, or the ended call still in wrap-up."""
    live = (
        Reservation.objects.select_related("call__tenant", "call__queue")
        .filter(operator=profile, state__in=["offered", "accepted", "completed"])
        .order_by("-offered_at")
        .first()
    )
    if live is None or live.state != Reservation.State.COMPLETED:
        return live
    with tenant_context(live.call.tenant):
        wrapped = Call.objects.filter(call_sid=live.call.call_sid, wrapup_ended_at__isnull=False).exists()
    return None if wrapped else live


def console_state(*, operator) -> dict[str, Any]:
    """Everything the console must show on (re)load, read from the database (R16)."""
    profile = profile_for(operator)
    now = timezone.now()
    shift = (
        OperatorEvent.objects.filter(operator=profile, kind="state", state="available", at__date=now.date())
        .order_by("at")
        .values_list("at", flat=True)
        .first()
    )
    state: dict[str, Any] = {
        "state": profile.state,
        "reason": profile.break_reason,
        "state_since": profile.state_since.isoformat(),
        "shift_started": shift.isoformat() if shift else None,
        "now": now.isoformat(),
        "reservation": None,
        "phase": None,
    }
    current = _current_reservation(profile)
    if current is not None:
        state["reservation"] = current.pk
        state["phase"] = "offer" if current.state == Reservation.State.OFFERED else "call"
    missed = Reservation.objects.filter(
        operator=profile, state=Reservation.State.EXPIRED, closed_at__gte=now - MISSED_WINDOW
    ).select_related("call__tenant", "call__queue")
    state["missed"] = [
        {"tenant": r.call.tenant.name, "queue": r.call.queue.name, "at": r.offered_at.isoformat()}
        for r in missed.order_by("-offered_at")[:5]
    ]
    return state
