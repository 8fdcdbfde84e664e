"""The router: waiting calls of every client company meet the shared pool of operators (R11, R14-R17, R20).

Cross-tenant by design, so it lives in the public schema and in this one module. Every write is in
``transaction.atomic()`` with its operator events; pushes to consoles and the bridge go on commit.

Lock order, wherever a function waits for a lock: the waiting call, then the operator profile, then
the reservation. ``match`` never waits: it locks the free operators with ``SKIP LOCKED``, reads the
waiting calls without locks, runs the pure policy (``telephony.matching``), then locks only the
chosen calls (``SKIP LOCKED``, re-checking they still wait). When another pass held or took rows,
it runs again (bounded; the periodic tick covers the rest). The partial unique constraints on
``Reservation`` make a double assignment impossible even so.

A queued call (``enqueue``) and a freed operator (``operators.profile_set_state``) are matched by
``match_within``: one pass inside the transaction that made the change, so the change and its
offer commit together; when that pass offers nothing, ``match`` looks again after the commit.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from telephony import matching
from telephony.models import OperatorProfile, Queue, Reservation, Skill, WaitingCall
from telephony.offers import reserve_pairs
from telephony.operators import SKILLS_SQL, cancel_offer, operator_set_state, profile_set_state, record
from telephony.pushes import push_on_commit
from telephony.routing_models import LIVE_RESERVATION, OperatorState

__all__ = [
    "accept",
    "enqueue",
    "expected_wait",
    "expire_reservations",
    "leave",
    "match",
    "operator_set_state",
    "queue_full",
    "reject",
]

MATCH_ATTEMPTS = 8
DEFAULT_HANDLE_SECONDS = 180.0
ANSWER_WINDOW = timedelta(minutes=60)


def queue_full(*, queue: Queue) -> bool:
    """Whether the queue holds ``max_length`` calls already (then offer voicemail or a callback)."""
    return (
        WaitingCall.objects.filter(queue=queue, state__in=["waiting", "reserved"]).count() >= queue.max_length
    )


def enqueue(
    *,
    tenant,
    queue: Queue,
    call_sid: str,
    priority: int = 0,
    language: str = "",
    now: datetime | None = None,
    with_statement: tuple[str, dict[str, object]] | None = None,
) -> WaitingCall:
    """Put a call in line (idempotent on ``call_sid``) and try to match it (``match_within``).

    Safe inside a tenant's schema (the router's tables exist in public only). It does not refuse a
    full queue: the caller checks the length first (``queue_full``, or the incoming-call webhook's
    ``flows.inbound_context``, which reads it with the rest of what a call needs).

    ``with_statement``: a statement of the caller's that ends with ``ENQUEUE_CTES`` (the call put
    in line; the free operators who may take it, locked, and the queue's calls, read, for
    ``match_within``) and its own parameters, so the caller's writes go in the same round trip.
    """
    if queue.tenant_id != tenant.pk:
        raise ValueError("The queue belongs to another client company.")
    now = now or timezone.now()
    sql, params = with_statement or (f"WITH {ENQUEUE_CTES}", {})
    served = _served([queue.pk])
    # One statement, replays included: the unique CallSid makes a second insert a no-op.
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                **params, "tenant": tenant.pk, "queue": queue.pk, "call_sid": call_sid,
                "priority": priority, "language": language, "now": now, "served": list(served),
            },
        )  # fmt: skip
        waiting_id, locked, read = cursor.fetchone()
    if waiting_id is None:
        return WaitingCall.objects.get(call_sid=call_sid)
    call = WaitingCall(
        id=waiting_id, tenant_id=tenant.pk, queue_id=queue.pk, call_sid=call_sid, priority=priority,
        language=language, enqueued_at=now,
    )  # fmt: skip
    call._state.adding, call._state.db = False, "default"
    if locked:
        # The statement read the queue's calls as they were before it: add this one (a row of
        # ``WAITING_SQL``). Anyone free serves this queue or the queue it overflows to, so the
        # pass's calls are this queue's.
        read = [
            *(read or ()),
            (waiting_id, queue.pk, now.timestamp(), priority, language, call_sid, tenant.pk),
        ]
    match_within(queue_ids=[queue.pk], now=now, locked=locked or [], read=read)
    return call


ENQUEUE_SQL = """
INSERT INTO public.telephony_waitingcall
    (tenant_id, queue_id, call_sid, priority, language, enqueued_at, state, outcome, reservation_count)
VALUES (%(tenant)s, %(queue)s, %(call_sid)s, %(priority)s, %(language)s, %(now)s, 'waiting', '', 0)
ON CONFLICT (call_sid) DO NOTHING
RETURNING id
"""


def leave(*, call_sid: str, outcome: str, now: datetime | None = None) -> None:
    """The call left the queue (hung up, voicemail, callback, or ended after the bridge)."""
    now = now or timezone.now()
    with transaction.atomic():
        call = WaitingCall.objects.select_for_update().filter(call_sid=call_sid).first()
        if call is None or call.state == WaitingCall.State.LEFT:
            return
        live = (
            Reservation.objects.select_related("operator")
            .select_for_update(of=("self",))
            .filter(LIVE_RESERVATION, call=call)
            .first()
        )
        if live is not None:
            operator = OperatorProfile.objects.select_for_update().get(pk=live.operator_id)
            if live.state == Reservation.State.OFFERED:
                cancel_offer(reservation=live, call=call, operator=operator, reason=outcome, now=now)
            else:
                live.state, live.closed_at, live.reason = Reservation.State.COMPLETED, now, outcome
                live.save(update_fields=["state", "closed_at", "reason"])
                if operator.state == OperatorState.ON_CALL:
                    profile_set_state(profile_id=operator.pk, state=OperatorState.WRAP_UP, now=now)
        call.state, call.left_at, call.outcome = WaitingCall.State.LEFT, now, outcome
        call.save(update_fields=["state", "left_at", "outcome"])


def match(
    *,
    queue_ids: list[int] | None = None,
    operator_ids: list[int] | None = None,
    now: datetime | None = None,
    anyone_free: bool | None = None,
) -> list[Reservation]:
    """Reserve the best available operators for the waiting calls of these queues (all when None).

    ``operator_ids`` narrows the operators considered (one who just became free). Safe under any
    number of concurrent callers: rows are locked with SKIP LOCKED, and a pass that skipped rows
    held by another transaction runs again (bounded; the periodic tick covers the rest).
    ``anyone_free``: ``_anyone_free(queue_ids)`` when already read (after the caller's commit).
    """
    if (
        queue_ids is not None
        and operator_ids is None
        and not (anyone_free if anyone_free is not None else _anyone_free(queue_ids))
    ):
        # Most calls arrive when nobody is free: one read instead of a locking pass. An operator
        # who becomes free after this read matches on their own commit and sees this call.
        return []
    made: list[Reservation] = []
    taken: set[int] = set()  # calls another pass locked as this one chose them
    for attempt in range(MATCH_ATTEMPTS):
        lost = len(taken)
        reservations, skipped = _match_once(queue_ids, operator_ids, now or timezone.now(), taken)
        made.extend(reservations)
        if not skipped:
            break
        if len(taken) == lost:  # rows another pass holds and may free: let it commit
            time.sleep(random.uniform(0.001, 0.004) * (attempt + 1))
        # else at once, choosing among the other calls (the taken ones are that pass's now)
    return made


def match_within(
    *,
    queue_ids: list[int] | None = None,
    operator_ids: list[int] | None = None,
    now: datetime | None = None,
    again: Callable[[], object] | None = None,
    locked: list | None = None,
    read: list | None = None,
) -> list[Reservation]:
    """``match`` as part of the caller's transaction: the change that freed an operator (or queued
    a call) commits together with its reservation, one commit instead of two.

    One pass, no retry (it must not sleep holding the caller's locks). When it reserves nothing, or
    skipped rows another transaction held, ``again`` (by default the same ``match``) runs once the
    caller commits: an operator freed (or a call queued) by a transaction committing meanwhile is
    invisible from here, and that transaction's own look may have come before this one commits; of
    two such changes, the one committing last then sees the other. Outside a transaction it is
    plain ``match``. ``locked``: the free operators, already locked in this transaction (rows of
    ``LOCK_OPERATORS_SQL``); ``read``: their waiting calls, already read (rows of ``WAITING_SQL``).
    """
    if not connection.in_atomic_block:
        return match(queue_ids=queue_ids, operator_ids=operator_ids, now=now)
    made, skipped = _match_pass(
        queue_ids, operator_ids, now or timezone.now(), again_after_commit=True, locked=locked, read=read
    )
    if not made or skipped:
        transaction.on_commit(again or _match_after_commit(queue_ids, operator_ids, now))
    return made


def _match_after_commit(
    queue_ids: list[int] | None, operator_ids: list[int] | None, now: datetime | None
) -> Callable[[], list[Reservation]]:
    """``match`` for once the caller commits."""
    free = _anyone_free_after_commit(queue_ids) if queue_ids and operator_ids is None else None

    def look_again() -> list[Reservation]:
        anyone_free = free.value if free is not None else None
        return match(queue_ids=queue_ids, operator_ids=operator_ids, now=now, anyone_free=anyone_free)

    return look_again


ANYONE_FREE_SQL = """
SELECT EXISTS (
    SELECT 1 FROM telephony_skill s JOIN telephony_operatorprofile p ON p.id = s.operator_id
    WHERE s.queue_id = ANY(%s) AND p.state = 'available'
)
"""


def _served(queue_ids: list[int]) -> set[int]:
    """These queues and the queues they overflow to: whose operators may take their calls."""
    rules = queue_rules(queue_ids)
    return set(queue_ids) | ({rule.overflow_queue for rule in rules.values()} - {None})


def _anyone_free(queue_ids: list[int]) -> bool:
    """Whether an available operator has a skill in these queues or the queues they overflow to."""
    with connection.cursor() as cursor:
        cursor.execute(ANYONE_FREE_SQL, [list(_served(queue_ids))])
        return cursor.fetchone()[0]


def _anyone_free_after_commit(queue_ids: list[int]) -> None:
    """Nothing is read with the commit any more (django-tenants' backend): ``match`` reads
    ``_anyone_free`` itself once the caller has committed."""
    return None


QUEUE_RULES_SECONDS = 5.0
_queue_rows: dict[int, tuple] = {}
_overflow_sources: dict[int, set[int]] = {}
_queue_rows_loaded = 0.0


def queue_rows(ids: set[int] | list[int]) -> dict[int, tuple]:
    """``id → (id, overflow_after, overflow_queue_id, ring_timeout, name, tenant name)``.

    Read for all queues at once and kept for ``QUEUE_RULES_SECONDS`` in each process (queue
    settings change rarely; a new queue is loaded on first sight), so a match reads no queue row.
    """
    global _queue_rows_loaded
    if time.monotonic() - _queue_rows_loaded > QUEUE_RULES_SECONDS or not set(ids) <= _queue_rows.keys():
        rows = Queue.objects.order_by().values_list(
            "id", "overflow_after", "overflow_queue_id", "ring_timeout", "name", "tenant__name"
        )
        _queue_rows.clear()
        _overflow_sources.clear()
        for row in rows:
            _queue_rows[row[0]] = row
            if row[2] is not None:
                _overflow_sources.setdefault(row[2], set()).add(row[0])
        _queue_rows_loaded = time.monotonic()
    return {q: _queue_rows[q] for q in ids if q in _queue_rows}


def queue_rules(ids: list[int]) -> dict[int, matching.QueueRule]:
    return {q: matching.QueueRule(float(row[1]), row[2]) for q, row in queue_rows(ids).items()}


# The hot path's reads in SQL (the ORM's compiling cost more than the queries): the free operators
# with their skills, locked; the waiting calls, read without locks (the chosen ones are locked as
# they are reserved: ``offers.RESERVE_SQL``); calls queued since that read. Times come as seconds since
# the epoch: what the matcher compares, without loading a datetime per row.
LOCK_OPERATORS_SQL = f"""
SELECT p.id, p.user_id, extract(epoch FROM p.idle_since)::float8 AS idle, p.languages,
       {SKILLS_SQL.format(operator="p.id")} AS skills
FROM telephony_operatorprofile p
WHERE p.state = 'available' AND {{scope}}
ORDER BY p.id
FOR UPDATE OF p SKIP LOCKED
"""  # noqa: S608 (a constant expression; values are parameters)
WAITING_COLUMNS = (
    "id, queue_id, extract(epoch FROM enqueued_at)::float8, priority, language, call_sid, tenant_id"
)
SERVED_SCOPE = "p.id IN (SELECT operator_id FROM telephony_skill WHERE queue_id = ANY(%(served)s))"
# The end of ``enqueue``'s statement: the call put in line, and (when it is new) the free operators
# of the queues it may be served from, locked as ``LOCK_OPERATORS_SQL`` would, with (when there are
# any) the calls waiting in its queue, for the match pass that follows in the same transaction:
# one round trip fewer for every call, two when someone is free.
ENQUEUE_CTES = f"""waiting AS ({ENQUEUE_SQL}), locked AS (
{LOCK_OPERATORS_SQL.format(scope=SERVED_SCOPE + " AND EXISTS (SELECT 1 FROM waiting)")})
SELECT (SELECT id FROM waiting),
       (SELECT json_agg(json_build_array(id, user_id, idle, languages, skills)) FROM locked),
       (SELECT json_agg(json_build_array({WAITING_COLUMNS}))
        FROM telephony_waitingcall
        WHERE state = 'waiting' AND queue_id = %(queue)s AND EXISTS (SELECT 1 FROM locked))
"""  # noqa: S608 (constant statements embedded in another; values are parameters)
WAITING_SQL = f"""
SELECT {WAITING_COLUMNS}
FROM telephony_waitingcall WHERE state = 'waiting' AND queue_id = ANY(%(queues)s)
"""  # noqa: S608 (a constant column list)
NEWER_CALLS_SQL = """
SELECT EXISTS (SELECT 1 FROM telephony_waitingcall
               WHERE state = 'waiting' AND queue_id = ANY(%(queues)s::bigint[])
                 AND NOT id = ANY(%(seen)s::bigint[]))
"""


def _lock_operators(
    queue_ids: list[int] | None, operator_ids: list[int] | None, served: set[int]
) -> list[tuple]:
    """The free operators (of these ids, with a skill in the served queues), locked."""
    scope = ["TRUE"]
    if operator_ids is not None:
        scope.append("p.id = ANY(%(operators)s)")
    if queue_ids is not None:
        scope.append(SERVED_SCOPE)
    with connection.cursor() as cursor:
        cursor.execute(
            LOCK_OPERATORS_SQL.format(scope=" AND ".join(scope)),
            {"operators": list(operator_ids or []), "served": list(served)},
        )
        return cursor.fetchall()


def _match_once(
    queue_ids: list[int] | None, operator_ids: list[int] | None, now: datetime, taken: set[int]
) -> tuple[list[Reservation], bool]:
    """One pass: lock the free operators, read the waiting calls, lock only the chosen ones.

    Returns the reservations and whether to look again (rows were held by another pass).
    """
    with transaction.atomic():
        return _match_pass(queue_ids, operator_ids, now, taken=taken)


def _match_pass(
    queue_ids: list[int] | None,
    operator_ids: list[int] | None,
    now: datetime,
    again_after_commit: bool = False,
    taken: set[int] | None = None,
    locked: list | None = None,
    read: list | None = None,
) -> tuple[list[Reservation], bool]:
    """``_match_once`` in the caller's transaction. ``again_after_commit``: the caller looks again
    after its commit whenever nothing is reserved, so nobody free needs no further read here.
    ``taken``: calls not to choose; the calls this pass lost to another are added to it.
    ``locked``, ``read``: the free operators when the caller has locked them already, and their
    waiting calls when it has read them too."""
    served = _served(queue_ids) if queue_ids is not None else set()

    def operators() -> QuerySet[OperatorProfile]:
        """The free operators of this pass, locked or not (built only when needed: compiling it
        cost a fifth of the incoming-call webhook)."""
        free = OperatorProfile.objects.filter(state=OperatorState.AVAILABLE)
        if operator_ids is not None:
            free = free.filter(id__in=operator_ids)
        if queue_ids is not None:
            free = free.filter(id__in=Skill.objects.filter(queue_id__in=served).values("operator_id"))
        return free

    if locked is None:
        locked = _lock_operators(queue_ids, operator_ids, served)
    if not locked:
        # Free operators another pass holds may have missed our calls: look again after it.
        return [], again_after_commit or operators().exists()
    skills: dict[int, dict[int, matching.SkillIn]] = {}
    for op_id, _, _, own, rows in locked:
        skills[op_id] = {q: matching.SkillIn(tier, frozenset(langs or own)) for q, tier, langs in rows}
    skill_queues = {q for per in skills.values() for q in per}
    queue_rows(skill_queues)  # also refreshes the overflow sources
    call_queues = skill_queues | {q for s in skill_queues for q in _overflow_sources.get(s, ())}
    if queue_ids is not None and operator_ids is None:
        call_queues &= set(queue_ids)
    if read is None:
        with connection.cursor() as cursor:
            cursor.execute(WAITING_SQL, {"queues": list(call_queues)})
            read = cursor.fetchall()
    calls = [c for c in read if c[0] not in taken] if taken else read
    queues = queue_rows({c[1] for c in calls})
    rules = {q: matching.QueueRule(float(row[1]), row[2]) for q, row in queues.items()}
    user_ids = {o[0]: o[1] for o in locked}
    reservations: list[Reservation] = []
    free, open_calls, others = locked, calls, set()  # others: calls other passes took meanwhile
    for _ in range(MATCH_ATTEMPTS):
        found = matching.pairs(
            [matching.CallIn(c[0], c[1], c[2], c[3], c[4]) for c in open_calls],
            [matching.OperatorIn(o[0], o[2], skills.get(o[0], {})) for o in free],
            rules,
            now.timestamp(),
        )
        # Calls are read without locks; only the chosen ones are locked (and re-checked) as they
        # are reserved, in one statement.
        made = reserve_pairs(found, {c[0]: c for c in open_calls}, user_ids, queues, now)
        reservations.extend(made)
        lost = {c for c, _ in found} - {r.call_id for r in made}
        if not lost:
            break
        # Another pass took these calls: the operators who chose them, still locked by this
        # transaction, choose again among the other calls, without reading them again.
        others |= lost
        if taken is not None:
            taken.update(lost)
        gone, served_now = lost | {r.call_id for r in made}, {r.operator_id for r in made}
        free = [o for o in free if o[0] not in served_now]
        open_calls = [c for c in open_calls if c[0] not in gone]
    else:
        return reservations, True  # still losing: look again (the other pass may free them)
    # A call left here may suit an operator another pass holds; an operator left here may suit a
    # call committed since we read: look again.
    everyone = operator_ids is not None and len(locked) == len(set(operator_ids))
    if (
        len(reservations) < len(calls) - len(others)
        and not everyone
        and operators().exclude(id__in=[o[0] for o in locked]).exists()
    ):
        return reservations, True
    if len(reservations) < len(locked):
        with connection.cursor() as cursor:
            cursor.execute(NEWER_CALLS_SQL, {"queues": list(call_queues), "seen": [c[0] for c in read]})
            return reservations, cursor.fetchone()[0]
    return reservations, False


def _offer_for_operator(reservation_id: int, operator) -> tuple[Reservation, WaitingCall, OperatorProfile]:
    """Lock the call, the operator and the reservation (in that order) of an offer to ``operator``."""
    call_id = Reservation.objects.filter(pk=reservation_id).values_list("call_id", flat=True).first()
    if call_id is None:
        raise Reservation.DoesNotExist(reservation_id)
    call = WaitingCall.objects.select_for_update().get(pk=call_id)
    profile = OperatorProfile.objects.select_for_update().get(user=operator)
    reservation = Reservation.objects.select_for_update().get(pk=reservation_id)
    if reservation.operator_id != profile.pk:
        raise PermissionError("This offer was made to another operator.")
    return reservation, call, profile


def accept(*, reservation_id: int, operator, now: datetime | None = None) -> WaitingCall:
    """The operator takes the offered call (the bridge is ``telephony.calls.answering.accept_offer``'s)."""
    now = now or timezone.now()
    with transaction.atomic():
        reservation, call, profile = _offer_for_operator(reservation_id, operator)
        if reservation.state != Reservation.State.OFFERED:
            raise ValueError(f"The offer is {reservation.state}.")
        reservation.state, reservation.closed_at = Reservation.State.ACCEPTED, now
        reservation.save(update_fields=["state", "closed_at"])
        call.state, call.answered_at, call.operator = WaitingCall.State.BRIDGED, now, profile
        call.save(update_fields=["state", "answered_at", "operator"])
        profile.state, profile.state_since, profile.missed_offers = OperatorState.ON_CALL, now, 0
        profile.save(update_fields=["state", "state_since", "missed_offers"])
        record(operator_id=profile.pk, kind="accepted", state=profile.state, call_sid=call.call_sid,
               tenant_id=call.tenant_id, now=now)  # fmt: skip
        push_on_commit(
            user_id=profile.user_id, message={"type": "state", "state": profile.state, "reason": ""}
        )
    return call


def reject(*, reservation_id: int, operator, now: datetime | None = None) -> None:
    """The operator declines the offer: the call keeps its place and goes to the next best operator."""
    now = now or timezone.now()
    with transaction.atomic():
        reservation, call, profile = _offer_for_operator(reservation_id, operator)
        if reservation.state != Reservation.State.OFFERED:
            return
        cancel_offer(reservation=reservation, call=call, operator=profile, reason="rejected", now=now,
                     state=Reservation.State.REJECTED)  # fmt: skip


def expire_reservations(*, now: datetime | None = None) -> int:
    """Offers past their ring timeout: cancelled, the call keeps its place, misses are counted."""
    now = now or timezone.now()
    due = list(
        Reservation.objects.filter(state=Reservation.State.OFFERED, expires_at__lte=now).values_list(
            "id", "call_id"
        )
    )
    expired = 0
    for reservation_id, call_id in due:
        with transaction.atomic():
            call = WaitingCall.objects.select_for_update(skip_locked=True).filter(pk=call_id).first()
            if call is None:
                continue  # being accepted or left right now; the next tick looks again
            reservation = Reservation.objects.select_for_update().get(pk=reservation_id)
            if reservation.state != Reservation.State.OFFERED:
                continue
            operator = OperatorProfile.objects.select_for_update().get(pk=reservation.operator_id)
            cancel_offer(reservation=reservation, call=call, operator=operator, reason="no answer", now=now,
                         state=Reservation.State.EXPIRED)  # fmt: skip
            expired += 1
    return expired


def expected_wait(*, call_sid: str, now: datetime | None = None) -> tuple[int, int]:
    """``(position, seconds)`` for the caller waiting as ``call_sid`` (R18).

    position: 1 + the calls of the same queue served before it (higher priority, or the same
    priority and enqueued earlier). seconds = ceil(position / staffed) * handle, where staffed is
    the operators with a skill on the queue who are logged in and not on a break, and handle is
    the mean time from answer to end of the queue's calls ended in the last hour (180 s without
    any). With nobody staffed, the queue's maximum wait: the caller will be offered a callback.
    """
    now = now or timezone.now()
    call = WaitingCall.objects.select_related("queue").get(call_sid=call_sid)
    if call.state not in (WaitingCall.State.WAITING, WaitingCall.State.RESERVED):
        return 0, 0
    ahead = (
        WaitingCall.objects.filter(queue_id=call.queue_id, state__in=["waiting", "reserved"])
        .filter(Q(priority__gt=call.priority) | Q(priority=call.priority, enqueued_at__lt=call.enqueued_at))
        .count()
    )
    position = ahead + 1
    staffed = (
        OperatorProfile.objects.filter(skills__queue_id=call.queue_id)
        .exclude(state__in=[OperatorState.OFFLINE, OperatorState.BREAK])
        .count()
    )
    if staffed == 0:
        return position, call.queue.max_wait
    ended = WaitingCall.objects.filter(
        queue_id=call.queue_id, answered_at__isnull=False, left_at__gte=now - ANSWER_WINDOW
    ).values_list("answered_at", "left_at")
    handles = [(left - answered).total_seconds() for answered, left in ended]
    handle = sum(handles) / len(handles) if handles else DEFAULT_HANDLE_SECONDS
    rounds = -(-position // staffed)
    return position, round(rounds * handle)
