"""The router's raw SQL: the statements of the hot paths (a call queued, an operator freed, a match).

Raw where the ORM needs several statements for one step (the reservation: lock the chosen calls,
mark them, write the offers) or where compiling the query would cost more than running it (about
a millisecond per ORM query against a fraction of that here; a match runs four or five of them).
Each statement sits with the function that runs it through Django's cursor (query counts and
monitoring see it) and returns named tuples or model instances. Every value is a parameter, the
states from the models' choices; a list parameter left None means "no such filter".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from django.db import connection

from telephony.routing_models import OperatorProfile, OperatorState, Reservation, WaitingCall

AVAILABLE = OperatorState.AVAILABLE.value
WAITING = WaitingCall.State.WAITING.value
IN_LINE = [WaitingCall.State.WAITING.value, WaitingCall.State.RESERVED.value]
AWAY = [OperatorState.OFFLINE.value, OperatorState.BREAK.value]  # not staffed: nobody could answer

# The profile's columns in the model's order, so a row becomes an ``OperatorProfile`` whatever
# fields the model gains.
PROFILE_FIELDS = OperatorProfile._meta.concrete_fields
PROFILE_COLUMNS = ", ".join(f'p."{field.column}"' for field in PROFILE_FIELDS)

# A skill the router may use: certified for the queue's company until later (R14; the ORM's
# ``routing_models.certified_skills``). Expiry takes effect by date, without a task.
CERTIFIED = "s.certified_until > now()"

# The queues a match is about: these (``served``); or, for given operators (one just freed), those
# of their skills' queues with calls waiting or overflowing into them (a probe per skill, not a
# read of every waiting call); or else the queues with calls waiting and the queues those overflow
# to. Only skills on them are read, so a match costs the work waiting, not every skill of every
# free operator (an operator may be skilled on a thousand companies' queues).
SCOPE = """
scope AS (
    SELECT CASE
    WHEN %(served)s::bigint[] IS NOT NULL THEN %(served)s::bigint[]
    WHEN %(operators)s::bigint[] IS NOT NULL THEN ARRAY(
        SELECT DISTINCT s.queue_id FROM telephony_skill s
        WHERE s.operator_id = ANY(%(operators)s::bigint[]) AND (
            EXISTS (SELECT 1 FROM telephony_waitingcall w
                    WHERE w.queue_id = s.queue_id AND w.state = %(waiting)s)
            OR EXISTS (SELECT 1 FROM telephony_queue q JOIN telephony_waitingcall w ON w.queue_id = q.id
                       WHERE q.overflow_queue_id = s.queue_id AND w.state = %(waiting)s)))
    ELSE ARRAY(
        SELECT w.queue_id FROM telephony_waitingcall w WHERE w.state = %(waiting)s
        UNION
        SELECT q.overflow_queue_id FROM telephony_waitingcall w JOIN telephony_queue q ON q.id = w.queue_id
        WHERE w.state = %(waiting)s AND q.overflow_queue_id IS NOT NULL
    ) END AS queues
)
"""

# The available operators, optionally only these ids (``operators``), with a certified skill on a
# queue of the scope unless only ids were asked for (through the skills' queue index: the
# operators of the work, not all of them).
FREE = f"""
p.state = %(available)s
AND (%(operators)s::bigint[] IS NULL OR p.id = ANY(%(operators)s::bigint[]))
AND ((%(operators)s::bigint[] IS NOT NULL AND %(served)s::bigint[] IS NULL) OR p.id IN (
    SELECT s.operator_id FROM telephony_skill s WHERE s.queue_id = ANY(scope.queues) AND {CERTIFIED}))
"""  # noqa: S608 (constant text)

# The operator ``p``'s certified skills on the scope's queues, as ``FreeOperator.skills``.
SKILLS = f"""
(SELECT json_agg(json_build_array(s.queue_id, s.tier, s.languages))
 FROM telephony_skill s WHERE s.operator_id = p.id AND s.queue_id = ANY(scope.queues) AND {CERTIFIED})
"""  # noqa: S608 (constant text)

# An operator with their certified skills on the scope's queues (a row of ``FreeOperator``).
OPERATOR_WITH_SKILLS = f"""
SELECT {PROFILE_COLUMNS}, {SKILLS} AS skills
FROM telephony_operatorprofile p CROSS JOIN scope
"""  # noqa: S608 (constant text)

# The free operators, locked: rows another pass holds are skipped (that pass serves them).
LOCK_FREE_OPERATORS = f"""
WITH {SCOPE}
{OPERATOR_WITH_SKILLS}
WHERE {FREE}
ORDER BY p.id
FOR UPDATE OF p SKIP LOCKED
"""

# One operator, locked (waiting for the lock), unless an offer rings for them (then its call is
# locked first: the lock order).
LOCK_UNRESERVED_OPERATOR = f"""
WITH {SCOPE}
{OPERATOR_WITH_SKILLS}
WHERE p.id = %(operator)s AND p.state <> %(reserved)s
FOR UPDATE OF p
"""

ANYONE_FREE = f"""
WITH {SCOPE}
SELECT EXISTS (
    SELECT 1 FROM telephony_operatorprofile p CROSS JOIN scope
    WHERE {FREE} AND NOT p.id = ANY(%(besides)s::bigint[])
)
"""  # noqa: S608 (constant text; every value is a parameter)

# Whether the operator is available, and whether a call waits in a queue of their skills (or in
# one overflowing into it): what an operator just freed looks at before a locking pass.
FREE_AND_CALLS_WAITING = f"""
WITH {SCOPE}
SELECT EXISTS (
    SELECT 1 FROM telephony_operatorprofile p WHERE p.id = %(operator)s AND p.state = %(available)s
), cardinality(scope.queues) > 0
FROM scope
"""  # noqa: S608 (constant text; every value is a parameter)

WAITING_CALLS = """
SELECT id, queue_id, enqueued_at, priority, language, call_sid, tenant_id
FROM telephony_waitingcall
WHERE state = %(waiting)s AND queue_id = ANY(%(queues)s::bigint[]) AND NOT id = ANY(%(taken)s::bigint[])
"""

# The same calls, and in the same read the calls offered or on a call in the queues ``seats_of``
# (their seats in use, for fairness between companies: ``routing.standing``).
WAITING_CALLS_AND_SEATS = """
SELECT id, queue_id, enqueued_at, priority, language, call_sid, tenant_id, state
FROM telephony_waitingcall
WHERE (state = %(waiting)s AND queue_id = ANY(%(queues)s::bigint[]) AND NOT id = ANY(%(taken)s::bigint[]))
   OR (state = ANY(%(busy)s::text[]) AND queue_id = ANY(%(seats_of)s::bigint[]))
"""
BUSY = [WaitingCall.State.RESERVED.value, WaitingCall.State.BRIDGED.value]

# Ids only grow: a call queued after a read has a higher id than every call that read saw.
QUEUED_AFTER = """
SELECT EXISTS (SELECT 1 FROM telephony_waitingcall
               WHERE state = %(waiting)s AND queue_id = ANY(%(queues)s::bigint[]) AND id > %(after)s)
"""

# The offers of a match in one statement: the chosen calls that still wait are locked (``SKIP
# LOCKED``: a call another pass or a hanging-up caller holds is left to them), marked reserved, and
# offered to their operators (whom the caller has locked).
RESERVE = """
WITH chosen AS (
    SELECT * FROM unnest(%(calls)s::bigint[], %(operators)s::bigint[], %(expires)s::timestamptz[])
        AS chosen(call_id, operator_id, expires_at)
), locked AS (
    SELECT w.id FROM telephony_waitingcall w
    WHERE w.id = ANY(%(calls)s::bigint[]) AND w.state = %(waiting)s
    ORDER BY w.id
    FOR UPDATE SKIP LOCKED
), marked AS (
    UPDATE telephony_waitingcall w
    SET state = %(reserved)s, reservation_count = w.reservation_count + 1
    FROM locked WHERE w.id = locked.id
)
INSERT INTO telephony_reservation (call_id, operator_id, offered_at, expires_at, state, closed_at, reason)
SELECT chosen.call_id, chosen.operator_id, %(now)s, chosen.expires_at, %(offered)s, NULL, ''
FROM chosen JOIN locked ON locked.id = chosen.call_id
ORDER BY chosen.call_id
RETURNING id, call_id, operator_id, offered_at, expires_at, state, closed_at, reason
"""
RESERVATION_FIELDS = [
    "id",
    "call_id",
    "operator_id",
    "offered_at",
    "expires_at",
    "state",
    "closed_at",
    "reason",
]

# A call put in line once (a replayed webhook's second insert is a no-op, no savepoint needed),
# and in the same statement the best free operators who may take it (``QUEUED_CALL_CANDIDATES``,
# below), locked as ``LOCK_FREE_OPERATORS`` locks them, for the match that follows in the same
# transaction. No row: a replay; one row with no operator: nobody is free. The operators are read
# from the skills on the served queues, one row each with their tier on the call's own queue (none:
# an overflow queue's only), and joined to their profiles at once: not a look-up of that tier per
# free operator (a thousand free operators: 1.3 ms against 3.5). The free operators are sorted by
# their keys alone, and only the chosen few read whole with their skills (2.7 ms against 3.7 on a
# slower machine, a thousand free).
ENQUEUE_ONCE = f"""
WITH waiting AS (
    INSERT INTO telephony_waitingcall
        (tenant_id, queue_id, call_sid, priority, language, enqueued_at, state, outcome, reservation_count,
         direction)
    VALUES (%(tenant_id)s, %(queue_id)s, %(call_sid)s, %(priority)s, %(language)s, %(enqueued_at)s,
            %(waiting)s, '', 0, %(direction)s)
    ON CONFLICT (call_sid) DO NOTHING
    RETURNING id
), {SCOPE}, skilled AS (
    SELECT s.operator_id, min(s.tier) FILTER (WHERE s.queue_id = %(queue_id)s) AS own_tier
    FROM telephony_skill s CROSS JOIN scope
    WHERE s.queue_id = ANY(scope.queues) AND {CERTIFIED}
    GROUP BY s.operator_id
), chosen AS (
    SELECT p.id, skilled.own_tier
    FROM skilled JOIN telephony_operatorprofile p ON p.id = skilled.operator_id
    WHERE p.state = %(available)s AND EXISTS (SELECT 1 FROM waiting)
    ORDER BY skilled.own_tier NULLS LAST, p.idle_since, p.id
    LIMIT %(candidates)s
    FOR UPDATE OF p SKIP LOCKED
), free AS (
    SELECT {PROFILE_COLUMNS}, {SKILLS} AS skills
    FROM chosen JOIN telephony_operatorprofile p ON p.id = chosen.id CROSS JOIN scope
    ORDER BY chosen.own_tier NULLS LAST, p.idle_since, p.id
)
SELECT waiting.id, free.* FROM waiting LEFT JOIN free ON TRUE
"""  # noqa: S608 (constant text; every value is a parameter)

# The free operators a queued call locks for its match: the best by the policy's order for a new
# call (own queue's best tier, then the overflow group; longest idle), not the whole free pool. A
# call that none of them suits (a language) is matched by the look after commit, which reads them
# all; a pool of a thousand free operators then costs the call a sort in the database, not a
# thousand rows locked and read, and calls arriving together lock different operators instead of
# waiting for each other's.
QUEUED_CALL_CANDIDATES = 8

# The queues among these with a skill of an operator logged in and not on a break, certified at
# ``now`` (``queues.staffed_queues``: "is anyone staffed?", asked of every incoming call). Each
# queue stops at its first such operator (a queue a thousand operators staff: 0.3 ms, against 1.3
# for reading all their skills).
STAFFED = """
SELECT q.queue_id FROM unnest(%(queues)s::bigint[]) AS q(queue_id)
WHERE EXISTS (SELECT 1 FROM telephony_skill s JOIN telephony_operatorprofile p ON p.id = s.operator_id
              WHERE s.queue_id = q.queue_id AND s.certified_until > %(now)s
                  AND NOT p.state = ANY(%(away)s::text[]))
"""

# Where a caller waiting as ``call_sid`` stands (each wait URL asks, R18), in one round trip: the
# waiting call's queue, whether it is still in line, the calls of that queue served before it
# (higher priority, or the same priority and enqueued earlier), the operators staffed on that queue
# (a certified skill on it, neither offline nor on a break) counted up to the caller's position,
# and ``STAFFED`` for the ``queues`` asked. A call the router does not know reads as not in line.
# The wait is ceil(position / staffed) rounds: as many staffed as the position make it one round,
# so more are not counted (a queue a thousand operators staff: 0.1 ms against 3 for counting them).
WHERE_IN_LINE = f"""
SELECT w.queue_id, coalesce(w.state = ANY(%(in_line)s::text[]), false), line.ahead,
    (SELECT count(*) FROM (  -- one skill per operator and queue (``skill_one_per_operator_queue``)
        SELECT 1 FROM telephony_skill s JOIN telephony_operatorprofile p ON p.id = s.operator_id
        WHERE s.queue_id = w.queue_id AND s.certified_until > %(now)s AND NOT p.state = ANY(%(away)s::text[])
        LIMIT line.ahead + 1) AS staffed),
    ARRAY({STAFFED})
FROM (SELECT 1) AS asked LEFT JOIN telephony_waitingcall w ON w.call_sid = %(call_sid)s
CROSS JOIN LATERAL (
    SELECT count(*) AS ahead FROM telephony_waitingcall a
    WHERE a.queue_id = w.queue_id AND a.state = ANY(%(in_line)s::text[])
        AND (a.priority > w.priority OR (a.priority = w.priority AND a.enqueued_at < w.enqueued_at))
) AS line
"""  # noqa: S608 (constant text; every value is a parameter)

# Whether a call is still bridged to the operator (it ends with the call, not with their state).
ON_A_CALL = """
SELECT EXISTS (SELECT 1 FROM telephony_waitingcall WHERE operator_id = %(operator)s AND state = %(bridged)s)
"""

# How many calls are in line in a queue, counted up to ``limit`` (all that "is it full?" needs).
IN_LINE_UP_TO = """
SELECT count(*) FROM (
    SELECT 1 FROM telephony_waitingcall
    WHERE queue_id = %(queue)s AND state = ANY(%(in_line)s::text[]) LIMIT %(limit)s
) AS line
"""

LINE_AND_STAFFED = f"SELECT ({IN_LINE_UP_TO}), ARRAY({STAFFED})"


class FreeOperator(NamedTuple):
    """An operator locked for a match, with their skills ``(queue id, tier, languages)``."""

    profile: OperatorProfile
    skills: list[tuple[int, int, list[str]]]


class WaitingRow(NamedTuple):
    """A waiting call as a match reads it (without a lock)."""

    id: int
    queue_id: int
    enqueued_at: datetime
    priority: int
    language: str
    call_sid: str
    tenant_id: int


def _ids(values: Iterable[int] | None) -> list[int] | None:
    return None if values is None else list(values)


def _operators(statement: str, parameters: dict[str, object]) -> list[FreeOperator]:
    names = [field.attname for field in PROFILE_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(statement, parameters)
        rows = cursor.fetchall()
    return [
        FreeOperator(OperatorProfile.from_db(connection.alias, names, row[:-1]), row[-1] or [])
        for row in rows
    ]


def lock_free_operators(
    *, operator_ids: Iterable[int] | None, served: Iterable[int] | None
) -> list[FreeOperator]:
    """The available operators (of these ids, with a skill on a served queue), locked, by id."""
    return _operators(
        LOCK_FREE_OPERATORS,
        {"available": AVAILABLE, "waiting": WAITING, "operators": _ids(operator_ids), "served": _ids(served)},
    )


def lock_unreserved_operator(operator_id: int) -> FreeOperator | None:
    """The operator with their skills, locked; None when an offer rings for them (or no such one)."""
    found = _operators(
        LOCK_UNRESERVED_OPERATOR,
        {
            "operator": operator_id,
            "operators": [operator_id],
            "reserved": OperatorState.RESERVED.value,
            "waiting": WAITING,
            "served": None,
        },
    )
    return found[0] if found else None


def anyone_free(
    *,
    operator_ids: Iterable[int] | None = None,
    served: Iterable[int] | None = None,
    besides: Iterable[int] = (),
) -> bool:
    """Whether an operator is available (of these ids, serving these queues, other than ``besides``),
    whether or not another pass holds them."""
    with connection.cursor() as cursor:
        cursor.execute(
            ANYONE_FREE,
            {
                "available": AVAILABLE, "waiting": WAITING, "operators": _ids(operator_ids),
                "served": _ids(served),
                "besides": list(besides),
            },
        )  # fmt: skip
        return cursor.fetchone()[0]


def free_and_calls_waiting(operator_id: int) -> tuple[bool, bool]:
    """Whether the operator is available, and whether a call waits where they may take it (a
    queue of their skills, or one overflowing into it; certification is the match's to check)."""
    with connection.cursor() as cursor:
        cursor.execute(
            FREE_AND_CALLS_WAITING,
            {"available": AVAILABLE, "waiting": WAITING, "operator": operator_id, "operators": [operator_id],
             "served": None},
        )  # fmt: skip
        free, waiting = cursor.fetchone()
    return free, waiting


def waiting_calls(*, queue_ids: Iterable[int], taken: Iterable[int] = ()) -> dict[int, WaitingRow]:
    """The calls waiting in these queues (not offered to anyone), by id; none of ``taken``."""
    with connection.cursor() as cursor:
        cursor.execute(WAITING_CALLS, {"waiting": WAITING, "queues": list(queue_ids), "taken": list(taken)})
        return {row[0]: WaitingRow(*row) for row in cursor.fetchall()}


def waiting_calls_and_seats(
    *, queue_ids: Iterable[int], taken: Iterable[int] = (), seats_of: Iterable[int] = ()
) -> tuple[dict[int, WaitingRow], dict[int, int]]:
    """``waiting_calls``, and the seats in use of each queue of ``seats_of`` (calls offered to or on
    a call with an operator), in one read."""
    seats_of = list(seats_of)
    with connection.cursor() as cursor:
        cursor.execute(
            WAITING_CALLS_AND_SEATS,
            {
                "waiting": WAITING, "queues": list(queue_ids), "taken": list(taken), "busy": BUSY,
                "seats_of": seats_of,
            },
        )  # fmt: skip
        rows = cursor.fetchall()
    seats = dict.fromkeys(seats_of, 0)
    calls = {}
    for row in rows:
        if row[-1] == WAITING:
            calls[row[0]] = WaitingRow(*row[:-1])
        else:
            seats[row[1]] += 1
    return calls, seats


def queued_after(*, queue_ids: Iterable[int], after: int) -> bool:
    """Whether a call waits in these queues that was queued after the call ``after`` (an id)."""
    with connection.cursor() as cursor:
        cursor.execute(QUEUED_AFTER, {"waiting": WAITING, "queues": list(queue_ids), "after": after})
        return cursor.fetchone()[0]


def reserve(*, offers: list[tuple[int, int, datetime]], now: datetime) -> list[Reservation]:
    """Offer each ``(call, operator, expires at)`` whose call still waits and is not held elsewhere;
    the reservations written, by call id."""
    calls, operators, expires = (list(column) for column in zip(*offers, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            RESERVE,
            {
                "calls": calls, "operators": operators, "expires": expires, "now": now,
                "waiting": WAITING, "reserved": WaitingCall.State.RESERVED.value,
                "offered": Reservation.State.OFFERED.value,
            },
        )  # fmt: skip
        rows = cursor.fetchall()
    return [Reservation.from_db(connection.alias, RESERVATION_FIELDS, row) for row in rows]


def enqueue_once(
    *, fields: dict[str, object], served: Iterable[int]
) -> tuple[int, list[FreeOperator]] | None:
    """Put a call in line (``fields``: its columns but the state) and lock the best free operators
    of the ``served`` queues for it (``QUEUED_CALL_CANDIDATES``): its id and them; None when it is
    in line already."""
    with connection.cursor() as cursor:
        cursor.execute(
            ENQUEUE_ONCE,
            {
                **fields,
                "waiting": WAITING,
                "available": AVAILABLE,
                "operators": None,
                "served": list(served),
                "candidates": QUEUED_CALL_CANDIDATES,
            },
        )
        rows = cursor.fetchall()
    if not rows:
        return None
    names = [field.attname for field in PROFILE_FIELDS]
    free = [
        FreeOperator(OperatorProfile.from_db(connection.alias, names, row[1:-1]), row[-1] or [])
        for row in rows
        if row[1] is not None
    ]
    return rows[0][0], free


def on_a_call(operator_id: int) -> bool:
    """Whether a call is still bridged to the operator (whatever state they are in)."""
    with connection.cursor() as cursor:
        cursor.execute(ON_A_CALL, {"operator": operator_id, "bridged": WaitingCall.State.BRIDGED.value})
        return cursor.fetchone()[0]


def line_and_staffed(
    *, queue_id: int, up_to: int, served: Iterable[int], now: datetime
) -> tuple[int, set[int]]:
    """The calls in line in the queue (waiting or being offered, counted up to ``up_to``) and
    ``staffed`` (for the queues ``served``) in one round trip: what a caller about to join a queue
    is checked against."""
    with connection.cursor() as cursor:
        cursor.execute(
            LINE_AND_STAFFED,
            {
                "queue": queue_id, "in_line": IN_LINE, "limit": up_to,
                "queues": list(served), "now": now, "away": AWAY,
            },
        )  # fmt: skip
        in_line, staffed = cursor.fetchone()
    return in_line, set(staffed)


class Standing(NamedTuple):
    """``WHERE_IN_LINE``'s row."""

    queue_id: int | None  # the waiting call's queue (None: not known to the router)
    in_line: bool
    ahead: int
    staffed_here: int  # operators staffed on the waiting call's queue, counted up to ahead + 1
    staffed: set[int]  # ``STAFFED`` of the queues asked


def where_in_line(*, call_sid: str, queues: Iterable[int], now: datetime) -> Standing:
    """Where the caller waiting as ``call_sid`` stands, and ``staffed`` for ``queues``, in one
    round trip (``WHERE_IN_LINE``)."""
    with connection.cursor() as cursor:
        cursor.execute(
            WHERE_IN_LINE,
            {"call_sid": call_sid, "in_line": IN_LINE, "queues": list(queues), "now": now, "away": AWAY},
        )
        queue_id, in_line, ahead, staffed_here, staffed = cursor.fetchone()
    return Standing(queue_id, in_line, ahead, staffed_here, set(staffed))


def staffed(*, queue_ids: Iterable[int], now: datetime) -> set[int]:
    """The queues among these on which an operator not offline nor on a break holds a skill
    certified at ``now`` (``queues.staffed_queues`` adds the overflow queues)."""
    with connection.cursor() as cursor:
        cursor.execute(STAFFED, {"queues": list(queue_ids), "now": now, "away": AWAY})
        return {row[0] for row in cursor.fetchall()}
