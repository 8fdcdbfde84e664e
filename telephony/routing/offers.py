"""Offers: the reservations a match writes, and the ``offer`` message a console receives."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from telephony.operators import transition
from telephony.routing import sql
from telephony.routing.queues import QueueRow
from telephony.routing.sql import WaitingRow
from telephony.routing_models import OperatorProfile, OperatorState, Reservation


def reserve(
    found: list[tuple[int, int]],
    calls: Mapping[int, WaitingRow],
    operators: Mapping[int, OperatorProfile],
    rules: Mapping[int, QueueRow],
    now: datetime,
) -> list[Reservation]:
    """Offer each ``(call, operator)`` pair whose call can be locked and still waits (``SKIP
    LOCKED``: the calls were read without locks); the operators are locked by the caller. Fewer
    come back when another pass took a call. The offers are pushed to the consoles on commit."""
    if not found:
        return []
    reservations = sql.reserve(
        offers=[(c, o, now + timedelta(seconds=rules[calls[c].queue_id].ring_timeout)) for c, o in found],
        now=now,
    )
    if not reservations:
        return []
    offers = {}
    for reservation in reservations:
        call = calls[reservation.call_id]
        queue = rules[call.queue_id]
        offers[reservation.operator_id] = offer_message(
            reservation=reservation,
            call_sid=call.call_sid,
            enqueued_at=call.enqueued_at,
            queue=queue.name,
            tenant=queue.tenant_name,
        )
    transition(
        [operators[r.operator_id] for r in reservations],
        OperatorState.RESERVED,
        now=now,
        kind="offered",
        call_sids={r.operator_id: calls[r.call_id].call_sid for r in reservations},
        tenant_ids={r.operator_id: calls[r.call_id].tenant_id for r in reservations},
        then=offers,  # each console's offer in the push of its state
    )
    return reservations


def offer_message(
    *, reservation: Reservation, call_sid: str, enqueued_at: datetime, queue: str, tenant: str
) -> dict[str, object]:
    """The ``offer`` a console receives (also re-sent on connect)."""
    return {
        "type": "offer",
        "reservation": reservation.pk,
        "tenant": tenant,
        "queue": queue,
        "call_sid": call_sid,
        "waited": round((reservation.offered_at - enqueued_at).total_seconds(), 1),
        "expires_at": reservation.expires_at.isoformat(),
    }
