"""Fairness between client companies, the pure policy (issue 20): targets, reserved seats, caps,
the hard limit, and today's order inside a company."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from reporting import kpis
from telephony.routing.fairness import NO_TERMS, Floor, Record, Terms
from telephony.routing.matching import CallIn, OperatorIn, QueueRule, SkillIn, pairs

A, B, C = 1, 2, 3  # one queue per company, company id = queue id + 100
NOW = 1000.0


def rules(**terms: Terms) -> dict[int, QueueRule]:
    names = {"a": A, "b": B, "c": C}
    found = {q: QueueRule(company=q + 100) for q in names.values()}
    found.update({names[k]: QueueRule(company=names[k] + 100, terms=t) for k, t in terms.items()})
    return found


def everyone(n: int = 1, queues=(A, B, C)) -> list[OperatorIn]:
    return [OperatorIn(10 + i, float(i), {q: SkillIn() for q in queues}) for i in range(n)]


def call(id: int, queue: int, waited: float, priority: int = 0) -> CallIn:
    return CallIn(id=id, queue=queue, enqueued_at=NOW - waited, priority=priority)


def floor(records=None, seats=None, pool: int = 10, hard_limit: float = 120.0) -> Floor:
    return Floor(records or {}, seats or {}, pool, hard_limit)


def first(calls, operators, rules_, floor_) -> int:
    return pairs(calls, operators, rules_, NOW, floor_)[0][0]


def test_the_company_furthest_behind_its_target_goes_first_not_the_oldest_call():
    records = {A: Record(within=20, counted=20), B: Record(within=10, counted=20)}
    calls = [call(1, A, waited=15), call(2, B, waited=5)]
    assert first(calls, everyone(), rules(), floor(records)) == 2
    # Without the contracts (today's order), the oldest call goes first.
    assert pairs(calls, everyone(), rules(), NOW)[0][0] == 1


def test_behind_is_measured_against_each_company_s_own_target():
    # A: 80 % against 90 % (11 % short of it); B: 55 % against 60 % (8 % short of it).
    records = {A: Record(80, 100), B: Record(55, 100)}
    terms = {"a": Terms(sl_percent=90), "b": Terms(sl_percent=60)}
    calls = [call(1, A, waited=1), call(2, B, waited=1)]
    assert first(calls, everyone(), rules(**terms), floor(records)) == 1
    # B further behind its own target: B.
    records = {A: Record(88, 100), B: Record(40, 100)}
    assert first(calls, everyone(), rules(**terms), floor(records)) == 2


def test_a_call_about_to_cross_its_threshold_goes_before_one_with_time_left():
    # Both on target; A's call is half way to its 20 s, B's a quarter of its 60 s though older.
    records = {A: Record(8, 10), B: Record(8, 10)}
    terms = {"a": Terms(80, 20), "b": Terms(80, 60)}
    calls = [call(1, A, waited=10), call(2, B, waited=15)]
    assert first(calls, everyone(), rules(**terms), floor(records)) == 1


def test_reserved_seats_are_honoured_before_anyone_further_behind():
    records = {A: Record(10, 10), B: Record(0, 50)}
    terms = {"a": Terms(reserved_seats=2)}
    calls = [call(1, A, waited=1), call(2, B, waited=30)]
    assert first(calls, everyone(), rules(**terms), floor(records, seats={A: 1})) == 1
    # Its reservation met (2 seats in use): the company behind goes first again.
    assert first(calls, everyone(), rules(**terms), floor(records, seats={A: 2})) == 2


def test_a_pass_gives_a_reservation_only_the_seats_it_lacks():
    terms = {"a": Terms(reserved_seats=2)}
    records = {A: Record(10, 10), B: Record(0, 50)}
    calls = [call(1, A, 3), call(2, A, 2), call(3, A, 1), call(4, B, 1)]
    made = pairs(calls, everyone(3), rules(**terms), NOW, floor(records, seats={A: 0}))
    assert sorted(c for c, _ in made) == [1, 2, 4]


def test_a_capped_company_waits_while_another_company_waits():
    records = {A: Record(0, 50), B: Record(10, 10)}
    terms = {"a": Terms(max_seats=3)}
    calls = [call(1, A, waited=60), call(2, B, waited=1)]
    assert first(calls, everyone(), rules(**terms), floor(records, seats={A: 3})) == 2
    # Under its cap it is served as any other (furthest behind).
    assert first(calls, everyone(), rules(**terms), floor(records, seats={A: 2})) == 1


def test_a_cap_never_leaves_an_operator_idle_when_nobody_else_can_use_them():
    terms = {"a": Terms(max_seats=1)}
    assert first([call(1, A, 5)], everyone(), rules(**terms), floor(seats={A: 4})) == 1
    # B's call waits, but this operator cannot take it: A's call has them.
    only_a = everyone(1, queues=(A,))
    assert first([call(1, A, 5), call(2, B, 50)], only_a, rules(**terms), floor(seats={A: 4})) == 1


def test_a_cap_in_percent_is_of_the_operators_logged_in():
    assert Terms(max_percent=25).cap(pool=40) == 10
    assert Terms(max_seats=8, max_percent=25).cap(pool=40) == 8
    assert Terms().cap(pool=40) is None
    terms = {"a": Terms(max_percent=10)}
    calls = [call(1, A, waited=60), call(2, B, waited=1)]
    records = {A: Record(0, 50)}
    assert first(calls, everyone(), rules(**terms), floor(records, seats={A: 2}, pool=20)) == 2
    assert first(calls, everyone(), rules(**terms), floor(records, seats={A: 2}, pool=30)) == 1


def test_a_call_past_the_hard_limit_wins_however_far_ahead_its_company_is():
    records = {A: Record(0, 50), B: Record(100, 100)}
    calls = [call(1, A, waited=10), call(2, B, waited=121)]
    assert first(calls, everyone(), rules(), floor(records, hard_limit=120)) == 2
    assert first(calls, everyone(), rules(), floor(records, hard_limit=150)) == 1


def test_inside_a_company_today_s_order_stands():
    # Company 101 has two queues; its priority call goes first though the other queue's call is
    # older and that queue further behind; the company competes with its worst standing.
    two = {A: QueueRule(company=101), B: QueueRule(company=101), C: QueueRule(company=103)}
    records = {A: Record(10, 10), B: Record(0, 20), C: Record(5, 10)}
    calls = [call(1, A, waited=2, priority=5), call(2, B, waited=30), call(3, C, waited=40)]
    made = pairs(calls, everyone(2), two, NOW, floor(records))
    assert [c for c, _ in made] == [1, 2]


def test_inside_a_queue_priority_then_longest_wait_and_the_operator_by_tier_then_idle():
    records = {A: Record(0, 20)}
    calls = [call(1, A, waited=30), call(2, A, waited=50), call(3, A, waited=1, priority=1)]
    operators = [
        OperatorIn(10, 5.0, {A: SkillIn(2)}),
        OperatorIn(11, 9.0, {A: SkillIn(1)}),
        OperatorIn(12, 1.0, {A: SkillIn(1)}),
    ]
    assert pairs(calls, operators, rules(), NOW, floor(records)) == [(3, 12), (2, 11), (1, 10)]


def test_one_pass_shares_a_batch_of_operators_as_each_call_taken_moves_its_company():
    records = {A: Record(6, 10), B: Record(6, 10)}
    calls = [call(1, A, waited=12), call(2, A, waited=11), call(3, B, waited=10)]
    made = pairs(calls, everyone(2), rules(), NOW, floor(records))
    assert sorted(c for c, _ in made) == [1, 3]


@settings(max_examples=150, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.sampled_from([A, B, C]), st.floats(0, 300), st.integers(0, 1)), min_size=1, max_size=12
    ),
    operators=st.integers(1, 6),
    seats=st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)),
)
def test_fair_order_keeps_every_guarantee_of_the_policy(data, operators, seats):
    calls = [call(i, q, w, p) for i, (q, w, p) in enumerate(data)]
    terms = {"a": Terms(reserved_seats=2), "b": Terms(max_seats=2)}
    the_floor = floor({A: Record(3, 10)}, seats=dict(zip((A, B, C), seats, strict=True)))
    made = pairs(calls, everyone(operators), rules(**terms), NOW, the_floor)
    # Work conserving: as many calls served as operators allow (everyone takes every queue).
    assert len(made) == min(len(calls), operators)
    assert len({c for c, _ in made}) == len(made) and len({o for _, o in made}) == len(made)
    served = {c for c, _ in made}
    waiting = [c for c in calls if c.id not in served]
    # B's cap (2) exceeded by this pass only when no call of another company is left waiting.
    b_taken = sum(1 for c in calls if c.id in served and c.queue == B)
    if b_taken > max(0, 2 - seats[1]):
        assert not [c for c in waiting if c.queue != B]
    # A's reservation: while A lacks seats and has a call waiting, nobody else was served instead.
    a_taken = sum(1 for c in calls if c.id in served and c.queue == A)
    if any(c.queue == A for c in waiting) and seats[0] + a_taken < 2:
        assert all(c.queue == A for c in calls if c.id in served)


def test_the_window_record_counts_as_the_kpi_definitions_do():
    terms = Terms(sl_percent=80, sl_seconds=20)
    # (wait ms, answered, abandoned)
    calls = [(19_999, True, False), (20_000, True, False), (20_001, True, False), (5_000, False, True),
             (5_001, False, True), (30_000, False, False), (1_000, True, False)]  # fmt: skip
    record = Record()
    for waited, answered, abandoned in calls:
        record = record.add(waited_ms=waited, answered=answered, abandoned=abandoned, terms=terms)
    started = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    facts = [
        kpis.CallFacts(
            started_at=started, queued=True, answered=answered, wait_ms=waited,
            outcome=kpis.ABANDONED if abandoned else ("handled" if answered else "voicemail"),
        )
        for waited, answered, abandoned in calls
    ]  # fmt: skip
    totals = kpis.totals(facts, sl_seconds=20)
    assert record.within == totals.answered_within_sl == 3
    assert record.counted == totals.offered - totals.short_abandons == 6


# One company (101) with two queues under different terms (A, B), another company (103, C): each
# queue's terms hold for that queue only (issue 20: the contract's terms per queue).
def two_queues(a: Terms, b: Terms, c: Terms = NO_TERMS) -> dict[int, QueueRule]:
    return {
        A: QueueRule(company=101, terms=a),
        B: QueueRule(company=101, terms=b),
        C: QueueRule(company=103, terms=c),
    }


def test_a_cap_on_one_queue_of_a_company_does_not_hold_back_its_other_queue():
    rules_ = two_queues(Terms(max_seats=1), Terms())
    records = {A: Record(0, 50), B: Record(0, 50), C: Record(10, 10)}  # 101 far behind, 103 on target
    calls = [call(1, A, waited=60), call(2, B, waited=5), call(3, C, waited=10)]
    seats = {A: 1, B: 3}  # A at its cap of 1; B has no cap, whatever it uses
    assert first(calls, everyone(), rules_, floor(records, seats)) == 2
    # Three operators: B's call, then C's (A is capped while another company waits), then A's.
    made = pairs(calls, everyone(3), rules_, NOW, floor(records, seats))
    assert [c for c, _ in made] == [2, 3, 1]
    # The same cap on B instead: A (under no cap now) goes first, B's call last.
    rules_ = two_queues(Terms(), Terms(max_seats=3))
    made = pairs(calls, everyone(3), rules_, NOW, floor(records, seats))
    assert [c for c, _ in made] == [1, 3, 2]


def test_reserved_seats_are_per_queue_a_met_reservation_of_one_queue_does_not_cover_the_other():
    rules_ = two_queues(Terms(reserved_seats=2), Terms(reserved_seats=1))
    records = {A: Record(10, 10), B: Record(10, 10), C: Record(0, 50)}  # 103 far behind
    calls = [call(1, A, waited=1), call(2, B, waited=1), call(3, C, waited=30)]
    # A uses its 2 reserved seats (and more); B's one reserved seat is free: B's call first.
    assert first(calls, everyone(), rules_, floor(records, seats={A: 3, B: 0})) == 2
    # B's reservation met too: the company furthest behind (103) goes first.
    assert first(calls, everyone(), rules_, floor(records, seats={A: 3, B: 1})) == 3
    # A second operator never goes to A on B's reservation: B gets exactly the seat it lacks.
    made = pairs(calls, everyone(2), rules_, NOW, floor(records, seats={A: 3, B: 0}))
    assert [c for c, _ in made] == [2, 3]


def test_a_percent_cap_is_each_queue_s_own_share_of_the_whole_pool():
    # Pool 20: A may hold 10 % (2 seats), B 50 % (10 seats); the company's total is not capped.
    rules_ = two_queues(Terms(max_percent=10), Terms(max_percent=50))
    records = {A: Record(0, 50), B: Record(0, 50), C: Record(10, 10)}
    calls = [call(1, A, waited=60), call(2, B, waited=50), call(3, C, waited=1)]
    made = pairs(calls, everyone(3), rules_, NOW, floor(records, seats={A: 2, B: 6}, pool=20))
    assert [c for c, _ in made] == [2, 3, 1]
    # B at its own 10 seats: capped too, C goes first.
    assert first(calls, everyone(), rules_, floor(records, seats={A: 2, B: 10}, pool=20)) == 3


def test_each_queue_of_a_company_is_measured_against_its_own_target():
    # A: 80 % against 90 % (11 % short); B: 65 % against 60 % (ahead); C: 75 % against 80 % (6 %).
    records = {A: Record(80, 100), B: Record(65, 100), C: Record(75, 100)}
    rules_ = two_queues(Terms(sl_percent=90), Terms(sl_percent=60), Terms(sl_percent=80))
    only_b = [call(2, B, waited=1), call(3, C, waited=1)]
    assert first(only_b, everyone(), rules_, floor(records)) == 3  # B is ahead of its own target
    with_a = [call(1, A, waited=1), *only_b]
    assert first(with_a, everyone(), rules_, floor(records)) == 1  # A is further behind than C
