"""Match passes: waiting calls of every client company meet the free operators of the shared pool.

A pass never waits for a lock: it locks the free operators with ``SKIP LOCKED``, reads the waiting
calls without locks, runs the pure policy (``routing.matching``), then locks only the chosen calls
(``offers.reserve``, ``SKIP LOCKED``, re-checking they still wait). When another pass held or took
rows it runs again (bounded; the periodic tick covers the rest). The partial unique constraints on
``Reservation`` make a double assignment impossible even so.
"""

from __future__ import annotations

import random
import time
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from telephony.routing import matching, queues, sql, standing
from telephony.routing.offers import reserve
from telephony.routing_models import Reservation

MATCH_ATTEMPTS = 8


def match(
    *, queue_ids: list[int] | None = None, operator_ids: list[int] | None = None, now: datetime | None = None
) -> list[Reservation]:
    """Offer the waiting calls of these queues (all when None) to the best free operators.

    ``operator_ids`` narrows the operators considered (one who just became free). Inside the
    caller's transaction it runs in a savepoint; sleeping between attempts then holds the caller's
    locks, so callers in a transaction use ``match_within`` and match again after their commit.
    """
    if queue_ids is not None and operator_ids is None and not anyone_free(queue_ids):
        # Most calls arrive when nobody is free: one read instead of a locking pass. An operator
        # who becomes free after this read is matched after their own commit and sees this call.
        return []
    made: list[Reservation] = []
    taken: set[int] = set()  # calls another pass locked as this one chose them
    for attempt in range(MATCH_ATTEMPTS):
        with transaction.atomic():
            reservations, again = _pass(queue_ids, operator_ids, now or timezone.now(), taken)
        made.extend(reservations)
        if not again:
            break
        time.sleep(random.uniform(0.001, 0.004) * (attempt + 1))  # let the other pass commit
    return made


def match_within(
    *,
    queue_ids: list[int] | None = None,
    operator_ids: list[int] | None = None,
    locked: list[sql.FreeOperator],
    now: datetime,
) -> tuple[list[Reservation], bool]:
    """One pass in the caller's transaction (a call just queued, an operator just freed), so that
    the change and its offer commit together: the reservations, and whether to ``match`` again
    once the caller commits (rows another pass held, or nothing offered). ``locked``: the free
    operators of this scope, locked by the caller already (the freed operator; those free for
    the queued call, locked as it was put in line).

    It never waits nor retries (that would hold the caller's locks). A change committing at the
    same time is invisible from here; of two such, the one committing last sees the other in its
    look after commit, so the caller must look again whenever this says so.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("match_within runs in the caller's transaction.")
    if not locked:  # nobody free (or all held by other passes): only the look after commit
        return [], True
    reservations, again = _pass(queue_ids, operator_ids, now, set(), locked=locked)
    return reservations, again or not reservations


def anyone_free(queue_ids: list[int]) -> bool:
    """Whether an available operator has a skill in these queues or the queues they overflow to."""
    return sql.anyone_free(served=queues.served(queue_ids, queues.rules_for(queue_ids)))


def _pass(
    queue_ids: list[int] | None,
    operator_ids: list[int] | None,
    now: datetime,
    taken: set[int],
    locked: list[sql.FreeOperator] | None = None,
) -> tuple[list[Reservation], bool]:
    """One pass in the current transaction: the reservations made, and whether to look again.
    ``locked``: the free operators, locked by the caller already."""
    rules = queues.rules_for(queue_ids or ())
    served = queues.served(queue_ids, rules) if queue_ids is not None else None
    if locked is None:
        locked = sql.lock_free_operators(operator_ids=operator_ids, served=served)
    locked = {free.profile.pk: free for free in locked}
    if not locked:
        # Free operators another pass holds may have missed our calls: look again after it.
        return [], sql.anyone_free(operator_ids=operator_ids, served=served)
    skills: dict[int, dict[int, matching.SkillIn]] = {
        pk: {q: matching.SkillIn(tier, frozenset(languages or free.profile.languages))
             for q, tier, languages in free.skills}
        for pk, free in locked.items()
    }  # fmt: skip
    skill_queues = {q for per in skills.values() for q in per}
    rules = queues.rules_for(skill_queues)
    call_queues = skill_queues | queues.overflowing_into(skill_queues, rules)
    if queue_ids is not None and operator_ids is None:
        call_queues &= set(queue_ids)
    if not call_queues:  # no call waits where they may take one (an operator freed on a calm floor)
        return [], False
    # With the calls, the seats in use of queues that reserve or cap seats (fairness reads them).
    calls, seats = sql.waiting_calls_and_seats(
        queue_ids=call_queues, taken=taken, seats_of=standing.seats_counted(rules, call_queues)
    )
    rules = queues.rules_for({c.queue_id for c in calls.values()})
    calls = {c: row for c, row in calls.items() if row.queue_id in rules}  # a queue deleted meanwhile
    call_queues_now = {c.queue_id for c in calls.values()}
    # Operators short, or seats reserved or capped: share them by the contracts (issue 20).
    floor = (
        standing.floor(rules, call_queues_now, short=len(calls) > len(locked), seats_read=seats)
        if calls
        else None
    )
    found = matching.pairs(
        [
            matching.CallIn(c.id, c.queue_id, c.enqueued_at.timestamp(), c.priority, c.language)
            for c in calls.values()
        ],
        [
            matching.OperatorIn(pk, free.profile.idle_since.timestamp(), skills[pk])
            for pk, free in locked.items()
        ],
        {q: rules[q].rule for q in call_queues_now},
        now.timestamp(),
        floor,
    )
    reservations = reserve(found, calls, {pk: free.profile for pk, free in locked.items()}, rules, now)
    lost = {c for c, _ in found} - {r.call_id for r in reservations}
    if lost:  # another pass took these calls: choose again among the others
        taken |= lost
        return reservations, True
    # A call left here may suit an operator another pass holds; an operator left here may suit a
    # call queued since the read: look again.
    everyone = operator_ids is not None and len(locked) == len(set(operator_ids))
    if (
        len(reservations) < len(calls)
        and not everyone
        and sql.anyone_free(operator_ids=operator_ids, served=served, besides=locked)
    ):
        return reservations, True
    if len(reservations) < len(locked):
        return reservations, sql.queued_after(queue_ids=call_queues, after=max(calls, default=0))
    return reservations, False
