"""Offers: the reservations a match writes, and the ``offer`` message a console receives."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import NamedTuple

from django.db.models import F

from telephony.operators import transition
from telephony.pushes import push_on_commit
from telephony.routing.queues import QueueRow
from telephony.routing_models import OperatorProfile, OperatorState, Reservation, WaitingCall


class WaitingRow(NamedTuple):
    """A waiting call as a match reads it (without a lock)."""

    id: int
    queue_id: int
    enqueued_at: datetime
    priority: int
    language: str
    call_sid: str
    tenant_id: int


WAITING_FIELDS = ("id", "queue_id", "enqueued_at", "priority", "language", "call_sid", "tenant_id")


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
    got = set(
        WaitingCall.objects.select_for_update(skip_locked=True)
        .filter(pk__in=[c for c, _ in found], state=WaitingCall.State.WAITING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    found = [(c, o) for c, o in found if c in got]
    if not found:
        return []
    reservations = Reservation.objects.bulk_create(
        Reservation(
            call_id=c,
            operator_id=o,
            offered_at=now,
            state=Reservation.State.OFFERED,
            expires_at=now + timedelta(seconds=rules[calls[c].queue_id].ring_timeout),
        )
        for c, o in found
    )
    WaitingCall.objects.filter(pk__in=got).update(
        state=WaitingCall.State.RESERVED, reservation_count=F("reservation_count") + 1
    )
    transition(
        [operators[o] for _, o in found],
        OperatorState.RESERVED,
        now=now,
        kind="offered",
        call_sids={o: calls[c].call_sid for c, o in found},
        tenant_ids={o: calls[c].tenant_id for c, o in found},
    )
    for reservation in reservations:
        call = calls[reservation.call_id]
        queue = rules[call.queue_id]
        push_on_commit(
            user_id=operators[reservation.operator_id].user_id,
            message=offer_message(
                reservation=reservation,
                call_sid=call.call_sid,
                enqueued_at=call.enqueued_at,
                queue=queue.name,
                tenant=queue.tenant_name,
            ),
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
