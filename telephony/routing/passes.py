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
from collections import defaultdict
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from telephony.routing import matching, queues
from telephony.routing.offers import WAITING_FIELDS, WaitingRow, reserve
from telephony.routing_models import OperatorProfile, OperatorState, Reservation, Skill, WaitingCall

MATCH_ATTEMPTS = 8


def match(
    *, queue_ids: list[int] | None = None, operator_ids: list[int] | None = None, now: datetime | None = None
) -> list[Reservation]:
    """Offer the waiting calls of these queues (all when None) to the best free operators.

    ``operator_ids`` narrows the operators considered (one who just became free). Inside the
    caller's transaction it runs in a savepoint; sleeping between attempts then holds the caller's
    locks, so callers match after their commit (``enqueue`` and a freed operator do).
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


def anyone_free(queue_ids: list[int]) -> bool:
    """Whether an available operator has a skill in these queues or the queues they overflow to."""
    served = queues.served(queue_ids, queues.rules_for(queue_ids))
    return Skill.objects.filter(queue_id__in=served, operator__state=OperatorState.AVAILABLE).exists()


def _free_operators(queue_ids: list[int] | None, operator_ids: list[int] | None, served: set[int] | None):
    free = OperatorProfile.objects.filter(state=OperatorState.AVAILABLE)
    if operator_ids is not None:
        free = free.filter(pk__in=operator_ids)
    if served is not None:
        free = free.filter(pk__in=Skill.objects.filter(queue_id__in=served).values("operator_id"))
    return free


def _pass(
    queue_ids: list[int] | None, operator_ids: list[int] | None, now: datetime, taken: set[int]
) -> tuple[list[Reservation], bool]:
    """One pass in the current transaction: the reservations made, and whether to look again."""
    rules = queues.rules_for(queue_ids or ())
    served = queues.served(queue_ids, rules) if queue_ids is not None else None
    free = _free_operators(queue_ids, operator_ids, served)
    locked = {p.pk: p for p in free.select_for_update(skip_locked=True).order_by("pk")}
    if not locked:
        # Free operators another pass holds may have missed our calls: look again after it.
        return [], free.exists()
    skills: dict[int, dict[int, matching.SkillIn]] = defaultdict(dict)
    for skill in Skill.objects.filter(operator_id__in=locked).values_list(
        "operator_id", "queue_id", "tier", "languages", named=True
    ):
        own = locked[skill.operator_id].languages
        skills[skill.operator_id][skill.queue_id] = matching.SkillIn(
            skill.tier, frozenset(skill.languages or own)
        )
    skill_queues = {q for per in skills.values() for q in per}
    rules = queues.rules_for(skill_queues)
    call_queues = skill_queues | queues.overflowing_into(skill_queues, rules)
    if queue_ids is not None and operator_ids is None:
        call_queues &= set(queue_ids)
    waiting = WaitingCall.objects.filter(state=WaitingCall.State.WAITING, queue_id__in=call_queues)
    calls = {row[0]: WaitingRow(*row) for row in waiting.exclude(pk__in=taken).values_list(*WAITING_FIELDS)}
    rules = queues.rules_for({c.queue_id for c in calls.values()})
    calls = {c: row for c, row in calls.items() if row.queue_id in rules}  # a queue deleted meanwhile
    found = matching.pairs(
        [
            matching.CallIn(c.id, c.queue_id, c.enqueued_at.timestamp(), c.priority, c.language)
            for c in calls.values()
        ],
        [matching.OperatorIn(p.pk, p.idle_since.timestamp(), skills.get(p.pk, {})) for p in locked.values()],
        {q: row.rule for q, row in rules.items()},
        now.timestamp(),
    )
    reservations = reserve(found, calls, locked, rules, now)
    lost = {c for c, _ in found} - {r.call_id for r in reservations}
    if lost:  # another pass took these calls: choose again among the others
        taken |= lost
        return reservations, True
    # A call left here may suit an operator another pass holds; an operator left here may suit a
    # call queued since the read: look again.
    everyone = operator_ids is not None and len(locked) == len(set(operator_ids))
    if len(reservations) < len(calls) and not everyone and free.exclude(pk__in=locked).exists():
        return reservations, True
    if len(reservations) < len(locked):
        # Ids only grow: a call queued after the read has a higher id than every call read.
        return reservations, waiting.filter(pk__gt=max(calls, default=0)).exists()
    return reservations, False
