"""What fairness between companies reads from the database (``routing.fairness`` is the policy).

- each queue's record over the sliding window (``ROUTING_SL_WINDOW_MINUTES``): the calls that left
  the line in it, answered or not, counted as docs/architecture.md §7 counts them (answered within
  the queue's threshold; offered less short abandons, an abandon of ``SHORT_ABANDON_SECONDS`` or
  less; the dialer's outbound calls are no queue's offered calls). One grouped read for every
  queue, kept per process for ``RECORD_SECONDS``: a service level over half an hour does not move
  in two seconds, and a match must stay a few milliseconds;
- the seats in use (calls offered to or on a call with an operator), exact, read in the match for
  the queues with reserved seats or a cap only;
- the pool (operators logged in), for caps in percent of it, kept per process for
  ``RECORD_SECONDS`` too (people log in and out over minutes, not milliseconds).

``floor`` puts them together for a match; ``now_favoured`` is the same view for the wallboard and
the back office: each queue's standing and whose call the next free operator would take, and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from config.process_cache import ProcessCache
from telephony.routing import fairness, matching, queues, sql
from telephony.routing_models import OperatorState, WaitingCall

RECORD_SECONDS = 2.0
SHORT_ABANDON_SECONDS = fairness.DEFAULT_SHORT_ABANDON_SECONDS

# Whole milliseconds rounded up compared with T x 1000 (§7) is the exact span compared with T.
RECORDS = """
SELECT w.queue_id,
       count(*) FILTER (WHERE w.answered_at IS NOT NULL
                        AND w.answered_at - w.enqueued_at <= q.service_level_seconds * INTERVAL '1 second'),
       count(*) FILTER (WHERE w.answered_at IS NOT NULL OR w.outcome <> %(abandoned)s
                        OR w.left_at - w.enqueued_at > %(short)s * INTERVAL '1 second')
FROM telephony_waitingcall w JOIN telephony_queue q ON q.id = w.queue_id
WHERE COALESCE(w.answered_at, w.left_at) >= %(since)s AND w.direction = %(inbound)s
  AND (%(every)s OR w.queue_id = ANY(%(queues)s::bigint[]))
GROUP BY w.queue_id
"""

SEATS = """
SELECT queue_id, count(*) FROM telephony_waitingcall
WHERE queue_id = ANY(%(queues)s::bigint[]) AND state = ANY(%(busy)s::text[])
GROUP BY queue_id
"""

POOL = "SELECT count(*) FROM telephony_operatorprofile WHERE state <> %(offline)s"


def records_since(since: datetime, queue_ids: Iterable[int] | None = None) -> dict[int, fairness.Record]:
    """Each queue's record of the calls that left the line since ``since`` (these queues' only,
    with ``queue_ids``)."""
    with connection.cursor() as cursor:
        cursor.execute(
            RECORDS,
            {
                "since": since, "abandoned": "abandoned", "short": SHORT_ABANDON_SECONDS,
                "inbound": WaitingCall.Direction.INBOUND.value, "every": queue_ids is None,
                "queues": list(queue_ids or ()),
            },
        )  # fmt: skip
        return {queue: fairness.Record(within, counted) for queue, within, counted in cursor.fetchall()}


def _load_records() -> dict[int, fairness.Record]:
    return records_since(timezone.now() - timedelta(minutes=settings.ROUTING_SL_WINDOW_MINUTES))


RECORDS_KEPT: ProcessCache[int, fairness.Record] = ProcessCache(ttl=RECORD_SECONDS, load_all=_load_records)


def seats(queue_ids: Iterable[int]) -> dict[int, int]:
    """Operators offered or on a call of each of these queues now."""
    with connection.cursor() as cursor:
        cursor.execute(SEATS, {"queues": list(queue_ids), "busy": sql.BUSY})
        return dict(cursor.fetchall())


def pool() -> int:
    """Operators logged in (every state but offline)."""
    with connection.cursor() as cursor:
        cursor.execute(POOL, {"offline": OperatorState.OFFLINE.value})
        return cursor.fetchone()[0]


POOL_KEPT: ProcessCache[str, int] = ProcessCache(ttl=RECORD_SECONDS, load_all=lambda: {"pool": pool()})


def seats_counted(rules: Mapping[int, queues.QueueRow], queue_ids: Iterable[int]) -> list[int]:
    """The queues among these whose seats in use a match counts (``floor``): those that reserve or
    cap seats, when fairness is on. A match reads them with its calls (``sql.waiting_calls_and_seats``)."""
    if not settings.ROUTING_FAIRNESS:
        return []
    return [q for q in queue_ids if q in rules and rules[q].terms.bounded]


def floor(
    rules: Mapping[int, queues.QueueRow],
    call_queues: Iterable[int],
    *,
    short: bool,
    seats_read: Mapping[int, int] | None = None,
) -> fairness.Floor | None:
    """What a match over calls of ``call_queues`` shares the operators by, or None when fairness
    has nothing to decide: operators are not short and no queue reserves or caps seats (or the
    ``ROUTING_FAIRNESS`` setting is off: today's order between companies). ``seats_read``: the
    seats in use of queues read already with the calls; the other bounded queues' are read here."""
    if not settings.ROUTING_FAIRNESS:
        return None
    terms = {q: rules[q].terms for q in call_queues if q in rules}
    bounded = [q for q, t in terms.items() if t.bounded]
    if not short and not bounded:
        return None
    known = seats_read or {}
    unread = [q for q in bounded if q not in known]
    in_use = {q: known[q] for q in bounded if q in known} | (seats(unread) if unread else {})
    return fairness.Floor(
        records=RECORDS_KEPT.snapshot() if short else {},
        seats=in_use,
        pool=POOL_KEPT.snapshot()["pool"] if any(terms[q].max_percent is not None for q in bounded) else 0,
        hard_limit=settings.ROUTING_HARD_LIMIT_SECONDS,
    )


@dataclass(frozen=True)
class View:
    """The router's view now: each queue with calls waiting, and whose call goes next and why."""

    standings: list[fairness.Standing]
    favoured_queue: int | None
    favoured_kind: str
    reason: str


def now_favoured(now: datetime | None = None, *, tenant_id: int | None = None) -> View:
    """Every queue's standing and the call the next free operator would take (by the contracts;
    which operator is free decides eligibility, so this is the policy's order before anyone is).

    With ``tenant_id``, one company's view, read from its own queues only (its calls, records and
    seats; the pool is a count of everyone logged in, which its percent caps are of): its queues'
    standings and which of its own calls the router serves first, for the company's portal; it
    says nothing of other companies and does no work for them."""
    now = now or timezone.now()
    rules = queues.RULES.snapshot()
    if tenant_id is not None:
        rules = {q: row for q, row in rules.items() if row.tenant_id == tenant_id}
    waiting = sql.waiting_calls(queue_ids=list(rules))
    waiting = {c: row for c, row in waiting.items() if row.queue_id in rules}
    call_queues = {row.queue_id for row in waiting.values()}
    if tenant_id is None:
        records = RECORDS_KEPT.snapshot()
    else:
        since = now - timedelta(minutes=settings.ROUTING_SL_WINDOW_MINUTES)
        records = records_since(since, list(rules)) if rules else {}
    floor_now = fairness.Floor(
        records=records,
        seats=seats(list(rules)),
        pool=pool(),
        hard_limit=settings.ROUTING_HARD_LIMIT_SECONDS,
    )
    calls = [
        matching.CallIn(c.id, c.queue_id, c.enqueued_at.timestamp(), c.priority, c.language)
        for c in waiting.values()
    ]
    chooser = fairness.Chooser(
        calls,
        {q: rules[q].tenant_id for q in call_queues},
        {q: rules[q].terms for q in call_queues},
        floor_now,
        now.timestamp(),
        matching.call_order,
    )
    standings = fairness.standings(chooser, {q: (row.tenant_id, row.terms) for q, row in rules.items()})
    first = fairness.favoured(chooser)
    if first is None:
        return View(standings, None, "", "no call is waiting")
    _, account, kind = first
    standing = next(s for s in standings if s.queue == account.queue)
    return View(standings, account.queue, kind, fairness.reason(kind, standing))


def figures(view: View, *, tenant_id: int | None = None) -> list[dict[str, object]]:
    """The view as rows for a page, per queue (one company's only, with ``tenant_id``): target,
    live service level (the window's, calls waiting past the threshold missed; None without
    calls), seats in use, reserved and cap, the class the router puts it in, favoured or not."""
    rules = queues.RULES.snapshot()
    rows = []
    for s in view.standings:
        row = rules.get(s.queue)
        if row is None or (tenant_id is not None and row.tenant_id != tenant_id):
            continue
        rows.append(
            {
                "queue_id": s.queue, "queue": row.name, "tenant_id": row.tenant_id, "tenant": row.tenant_name,
                "target": f"{s.terms.sl_percent} % in {s.terms.sl_seconds} s",
                "target_percent": s.terms.sl_percent,
                "sl_live": round(100 * s.within / s.counted) if s.counted else None,
                "waiting": s.waiting, "seats": s.seats, "reserved": s.terms.reserved_seats, "cap": s.cap,
                "kind": s.kind, "favoured": s.queue == view.favoured_queue,
                "active": bool(s.waiting or s.seats or s.counted or s.terms.bounded),
            }
        )  # fmt: skip
    return sorted(rows, key=lambda r: (str(r["tenant"]), str(r["queue"])))
