"""Which calls an operator may touch: only those routed to them, read from the right schema."""

from __future__ import annotations

from telephony.calls.models import Call
from telephony.routing_models import Reservation


class ConsoleError(ValueError):
    """The console asked for something this call cannot do now; the message is for the operator."""


def access_reservation(*, operator, reservation_id: int) -> Reservation:
    """The reservation, only if it was offered to ``operator`` (else ``Reservation.DoesNotExist``)."""
    return Reservation.objects.select_related("call__tenant", "call__queue").get(
        pk=reservation_id, operator__user=operator
    )


def call_for(reservation: Reservation) -> Call | None:
    """The tenant's call of a reservation (inside the tenant's schema).

    An outbound call gets its CallSid after it was reserved (both rows change in one transaction):
    when the router's row was read before that commit and the call after it, read the row again.
    """
    for _ in range(2):
        call = (
            Call.objects.select_related("script_session__version__script", "contact")
            .filter(call_sid=reservation.call.call_sid)
            .first()
        )
        if call is not None:
            return call
        reservation.call.refresh_from_db(fields=["call_sid"])
    return None


def live_call(reservation: Reservation, call: Call | None = None) -> Call:
    """The tenant's call of an accepted reservation, still in the operator's hands (not wrapped up).

    ``call``: the call already read for this reservation (else it is read here).
    """
    if reservation.state not in (Reservation.State.ACCEPTED, Reservation.State.COMPLETED):
        raise ConsoleError("This call is not yours to handle.")
    call = call or call_for(reservation)
    if call is None:
        raise ConsoleError("This call is over.")
    if call.wrapup_ended_at is not None:
        raise ConsoleError("This call is wrapped up.")
    return call
