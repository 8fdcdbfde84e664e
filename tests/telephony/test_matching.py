"""The pure matching policy: tiers, fairness, priority, overflow, languages (R11, R14, R17, R20)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from telephony.routing.matching import CallIn, OperatorIn, QueueRule, SkillIn, pairs, rank

Q, OTHER, GROUP = 1, 2, 3


def op(id: int, idle: float = 0.0, **skills: int) -> OperatorIn:
    names = {"q": Q, "other": OTHER, "group": GROUP}
    return OperatorIn(id=id, idle_since=idle, skills={names[k]: SkillIn(tier=t) for k, t in skills.items()})


def call(id: int, at: float = 0.0, priority: int = 0, queue: int = Q, language: str = "") -> CallIn:
    return CallIn(id=id, queue=queue, enqueued_at=at, priority=priority, language=language)


def test_the_best_tier_takes_the_call_even_when_a_worse_one_idles_longer():
    assert pairs([call(1)], [op(10, idle=0, q=2), op(11, idle=50, q=1)], {}, now=100) == [(1, 11)]


def test_within_a_tier_the_longest_idle_operator_goes_first():
    operators = [op(10, idle=30, q=1), op(11, idle=10, q=1), op(12, idle=20, q=1)]
    assert pairs([call(1), call(2, at=1)], operators, {}, now=100) == [(1, 11), (2, 12)]


def test_priority_calls_go_first_then_the_longest_waiting():
    calls = [call(1, at=5), call(2, at=1), call(3, at=9, priority=5)]
    assert pairs(calls, [op(10, q=1), op(11, idle=1, q=1)], {}, now=100) == [(3, 10), (2, 11)]


def test_a_worse_tier_is_admitted_only_after_the_overflow_time():
    rules = {Q: QueueRule(overflow_after=30)}
    tier2 = [op(10, q=2)]
    assert pairs([call(1, at=0)], tier2, rules, now=29) == []
    assert pairs([call(1, at=0)], tier2, rules, now=30) == [(1, 10)]
    assert pairs([call(1, at=0)], [op(10, q=3)], rules, now=59) == []
    assert pairs([call(1, at=0)], [op(10, q=3)], rules, now=60) == [(1, 10)]


def test_the_overflow_group_comes_after_the_overflow_time_and_after_own_operators():
    rules = {Q: QueueRule(overflow_after=30, overflow_queue=GROUP)}
    assert pairs([call(1)], [op(10, group=1)], rules, now=10) == []
    assert pairs([call(1)], [op(10, group=1)], rules, now=31) == [(1, 10)]
    assert pairs([call(1)], [op(10, idle=0, group=1), op(11, idle=9, q=2)], rules, now=31) == [(1, 11)]


def test_a_call_asking_for_a_language_gets_an_operator_who_speaks_it():
    english = OperatorIn(id=10, idle_since=0, skills={Q: SkillIn(1, frozenset({"en"}))})
    spanish = OperatorIn(id=11, idle_since=5, skills={Q: SkillIn(1, frozenset({"es"}))})
    assert pairs([call(1, language="es")], [english, spanish], {}, now=9) == [(1, 11)]
    assert pairs([call(1, language="fr")], [english, spanish], {}, now=9) == []


def test_an_operator_without_a_skill_for_the_queue_never_gets_its_calls():
    assert pairs([call(1, queue=OTHER)], [op(10, q=1)], {}, now=1000) == []


def test_nobody_gets_two_calls_and_no_call_two_operators():
    result = pairs([call(i, at=i) for i in range(5)], [op(10, q=1), op(11, q=1)], {}, now=10)
    assert result == [(0, 10), (1, 11)]


LANGS = st.sampled_from(["en", "es"])
QUEUES = st.integers(1, 4)
calls_strategy = st.lists(
    st.builds(
        CallIn,
        id=st.integers(0, 10_000),
        queue=st.integers(1, 4),
        enqueued_at=st.floats(0, 100),
        priority=st.integers(0, 2),
        language=st.sampled_from(["", "", "en", "es"]),
    ),
    max_size=25,
    unique_by=lambda c: c.id,
)
operators_strategy = st.lists(
    st.builds(
        OperatorIn,
        id=st.integers(0, 10_000),
        idle_since=st.floats(0, 100),
        skills=st.dictionaries(
            st.integers(1, 4),
            st.builds(SkillIn, tier=st.integers(1, 3), languages=st.frozensets(LANGS)),
            max_size=3,
        ),
    ),
    max_size=15,
    unique_by=lambda o: o.id,
)
rules_strategy = st.dictionaries(
    st.integers(1, 4),
    st.builds(QueueRule, overflow_after=st.sampled_from([0, 10, 30]), overflow_queue=st.none() | QUEUES),
)


@settings(max_examples=400, deadline=None)
@given(calls=calls_strategy, operators=operators_strategy, rules=rules_strategy, now=st.floats(0, 200))
def test_matching_properties(calls, operators, rules, now):
    result = pairs(calls, operators, rules, now)
    by_call = {c.id: c for c in calls}
    by_operator = {o.id: o for o in operators}
    default = QueueRule()
    # Each call and each operator at most once.
    assert len({c for c, _ in result}) == len(result)
    assert len({o for _, o in result}) == len(result)
    # Never an ineligible operator.
    for call_id, operator_id in result:
        c = by_call[call_id]
        assert rank(c, by_operator[operator_id], rules.get(c.queue, default), now) is not None
    # Never an eligible operator idle while a call it could take waits.
    matched_calls = {c for c, _ in result}
    used = {o for _, o in result}
    for c in calls:
        if c.id in matched_calls:
            continue
        for o in operators:
            if o.id not in used:
                assert rank(c, o, rules.get(c.queue, default), now) is None
    # Each matched call got the best operator still free at its turn (calls in priority order).
    free = set(by_operator)
    order = sorted(result, key=lambda p: (-by_call[p[0]].priority, by_call[p[0]].enqueued_at, p[0]))
    for call_id, operator_id in order:
        c = by_call[call_id]
        ranks = [
            r for o in free if (r := rank(c, by_operator[o], rules.get(c.queue, default), now)) is not None
        ]
        assert rank(c, by_operator[operator_id], rules.get(c.queue, default), now) == min(ranks)
        free.discard(operator_id)
