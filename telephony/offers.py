"""Offers: the reservations a match writes, and the ``offer`` message a console receives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import connection

from telephony.pushes import push_on_commit
from telephony.routing_models import Reservation

# One round trip for a match's writes: lock the chosen calls (``SKIP LOCKED``, re-checking they
# still wait: the calls were read without locks), then for those it got, the reservations, the
# calls and the operators marked reserved, and the operators' "offered" events.
RESERVE_SQL = """
WITH wanted AS (
    SELECT * FROM unnest(%(calls)s::bigint[], %(operators)s::bigint[], %(expires)s::timestamptz[],
                         %(sids)s::varchar[], %(tenants)s::bigint[])
        AS p(call_id, operator_id, expires_at, call_sid, tenant_id)
), locked AS (
    SELECT id FROM telephony_waitingcall WHERE id = ANY(%(calls)s::bigint[]) AND state = 'waiting'
    ORDER BY id FOR UPDATE SKIP LOCKED
), pairs AS (
    SELECT wanted.* FROM wanted JOIN locked ON locked.id = wanted.call_id
), made AS (
    INSERT INTO telephony_reservation (call_id, operator_id, offered_at, expires_at, state, reason)
    SELECT call_id, operator_id, %(now)s, expires_at, 'offered', '' FROM pairs
    RETURNING id, call_id, operator_id, expires_at
), calls AS (
    UPDATE telephony_waitingcall AS w SET state = 'reserved', reservation_count = w.reservation_count + 1
    FROM pairs WHERE w.id = pairs.call_id
), operators AS (
    UPDATE telephony_operatorprofile AS o SET state = 'reserved', state_since = %(now)s
    FROM pairs WHERE o.id = pairs.operator_id
), events AS (
    INSERT INTO telephony_operatorevent (operator_id, at, kind, state, reason, call_sid, tenant_id)
    SELECT operator_id, %(now)s, 'offered', 'reserved', '', call_sid, tenant_id FROM pairs
)
SELECT id, call_id, operator_id, expires_at FROM made
"""


def reserve_pairs(found, calls, user_ids, queues, now: datetime) -> list[Reservation]:
    """Write the reservations of ``found`` (operators locked by the caller) whose call could be
    locked and still waits, and push the offers on commit. Fewer back: another pass took a call.

    ``calls``: id → the row of ``routing.WAITING_SQL`` (times as seconds since the epoch)."""
    if not found:
        return []
    params = {
        "calls": [c for c, _ in found],
        "operators": [o for _, o in found],
        "expires": [now + timedelta(seconds=queues[calls[c][1]][3]) for c, _ in found],
        "sids": [calls[c][5] for c, _ in found],
        "tenants": [calls[c][6] for c, _ in found],
        "now": now,
    }
    with connection.cursor() as cursor:
        cursor.execute(RESERVE_SQL, params)
        rows = cursor.fetchall()
    reservations = []
    for pk, call_id, operator_id, expires_at in rows:
        reservation = Reservation(
            pk=pk, call_id=call_id, operator_id=operator_id, offered_at=now, expires_at=expires_at
        )
        reservations.append(reservation)
        call = calls[call_id]
        queue = queues[call[1]]
        push_on_commit(
            user_id=user_ids[operator_id],
            message=offer_message(
                reservation=reservation,
                call_sid=call[5],
                enqueued_at=datetime.fromtimestamp(call[2], tz=UTC),
                queue=queue[4],
                tenant=queue[5],
            ),
        )
    return reservations


def offer_message(*, reservation: Reservation, call_sid: str, enqueued_at: datetime, queue: str, tenant: str):
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
