"""The matching policy, pure (no Django): which waiting call goes to which available operator.

Policy (R11, R14, R17, R20):
- calls are served in order: higher priority first, then longest waiting (``enqueued_at``, which a
  call keeps when an offer to it expires or is rejected), then id;
- an operator is eligible for a call through a skill on the call's queue whose tier is admitted:
  tier ``t`` after ``(t - 1) * overflow_after`` seconds of waiting (tier 1 at once; all tiers at
  once when ``overflow_after`` is 0), and, when the call asks for a language, the skill speaks it;
- once the call has waited ``overflow_after`` seconds, the operators of the queue's overflow queue
  (the overflow group) are eligible too, after every own-queue operator;
- among the eligible operators: own queue before overflow group, best tier first, then the longest
  idle (``idle_since``; even load), then id.

Greedy in call order, this never leaves an operator idle while a call it is eligible for waits:
had the call found it unused at its turn, it would have taken it (or a better one).

Between client companies, when a ``fairness.Floor`` is given (operators short, or a queue with
reserved or capped seats), the calls come in ``fairness.Chooser``'s order instead: reserved seats,
then calls past the hard limit, then the company furthest behind its service-level target, capped
queues last; inside a company, the order above. Greedy still: no operator idles while a call it
may take waits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from telephony.routing import fairness


@dataclass(frozen=True, slots=True)
class QueueRule:
    overflow_after: float = 0.0
    overflow_queue: int | None = None
    company: int = 0  # the client company (tenant id): fairness is between companies
    terms: fairness.Terms = fairness.NO_TERMS


@dataclass(frozen=True, slots=True)
class SkillIn:
    tier: int = 1
    languages: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class CallIn:
    id: int
    queue: int
    enqueued_at: float
    priority: int = 0
    language: str = ""


@dataclass(frozen=True, slots=True)
class OperatorIn:
    id: int
    idle_since: float
    skills: Mapping[int, SkillIn] = field(default_factory=dict)


def call_order(call: CallIn) -> tuple[int, float, int]:
    return (-call.priority, call.enqueued_at, call.id)


def max_tier(call: CallIn, rule: QueueRule, now: float) -> int:
    """The worst tier admitted for this call now."""
    if rule.overflow_after <= 0:
        return 10**6
    return 1 + int(max(0.0, now - call.enqueued_at) // rule.overflow_after)


def overflow_open(call: CallIn, rule: QueueRule, now: float) -> bool:
    if rule.overflow_queue is None:
        return False
    return rule.overflow_after <= 0 or now - call.enqueued_at >= rule.overflow_after


def _speaks(skill: SkillIn, language: str) -> bool:
    return not language or language in skill.languages


def rank(call: CallIn, operator: OperatorIn, rule: QueueRule, now: float) -> tuple | None:
    """How good ``operator`` is for ``call`` (smaller is better), or None when not eligible."""
    own = operator.skills.get(call.queue)
    if own is not None:
        if own.tier <= max_tier(call, rule, now) and _speaks(own, call.language):
            return (0, own.tier, operator.idle_since, operator.id)
        return None
    if overflow_open(call, rule, now):
        group = operator.skills.get(rule.overflow_queue)  # type: ignore[arg-type]
        if group is not None and _speaks(group, call.language):
            return (1, group.tier, operator.idle_since, operator.id)
    return None


class _Line:
    """The operators with a skill on one queue, best first, with a cursor past the used ones."""

    __slots__ = ("entries", "head")

    def __init__(self, entries: list[tuple[int, float, int, SkillIn]]) -> None:
        self.entries = sorted(entries, key=lambda e: (e[0], e[1], e[2]))
        self.head = 0

    def first(self, used: set[int], *, tier_limit: int, language: str) -> int | None:
        entries = self.entries
        while self.head < len(entries) and entries[self.head][2] in used:
            self.head += 1
        for index in range(self.head, len(entries)):
            tier, _, operator_id, skill = entries[index]
            if tier > tier_limit:
                return None
            if operator_id in used or not _speaks(skill, language):
                continue
            return operator_id
        return None


def pairs(
    calls: Iterable[CallIn],
    operators: Sequence[OperatorIn],
    rules: Mapping[int, QueueRule],
    now: float,
    floor: fairness.Floor | None = None,
) -> list[tuple[int, int]]:
    """``[(call id, operator id), …]`` to reserve; each call and each operator at most once.
    ``floor``: share the operators between companies by their contracts (``fairness``)."""
    by_queue: dict[int, list[tuple[int, float, int, SkillIn]]] = {}
    owners: dict[int, set[int]] = {}
    for operator in operators:
        for queue_id, skill in operator.skills.items():
            by_queue.setdefault(queue_id, []).append((skill.tier, operator.idle_since, operator.id, skill))
            owners.setdefault(queue_id, set()).add(operator.id)
    lines = {queue_id: _Line(entries) for queue_id, entries in by_queue.items()}
    used: set[int] = set()
    result: list[tuple[int, int]] = []
    default_rule = QueueRule()
    chooser = None
    if floor is not None:
        calls = list(calls)
        queue_ids = {c.queue for c in calls}
        chooser = fairness.Chooser(
            calls,
            {q: rules.get(q, default_rule).company or -q for q in queue_ids},  # no company: its own
            {q: rules.get(q, default_rule).terms for q in queue_ids},
            floor,
            now,
            call_order,
        )
    for call in chooser if chooser is not None else sorted(calls, key=call_order):
        if len(used) == len(operators):
            break
        rule = rules.get(call.queue, default_rule)
        chosen = None
        own = lines.get(call.queue)
        if own is not None:
            chosen = own.first(used, tier_limit=max_tier(call, rule, now), language=call.language)
        if chosen is None and overflow_open(call, rule, now):
            group = lines.get(rule.overflow_queue)  # type: ignore[arg-type]
            if group is not None:
                chosen = _first_outside(group, used, call.language, owners.get(call.queue, set()))
        if chosen is not None:
            used.add(chosen)
            result.append((call.id, chosen))
            if chooser is not None:
                chooser.took(call)
    return result


def _first_outside(line: _Line, used: set[int], language: str, own_operators: set[int]) -> int | None:
    """Best unused overflow-group operator who has no skill of their own on the call's queue."""
    for _, _, operator_id, skill in line.entries[line.head :]:
        if operator_id in used or operator_id in own_operators or not _speaks(skill, language):
            continue
        return operator_id
    return None
