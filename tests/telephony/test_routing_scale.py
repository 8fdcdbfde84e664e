"""A match costs the work waiting, not every skill of every free operator (issue 23).

Operators are shared by every client company: one may be skilled on the queues of a thousand of
them. A match reads only the skills on queues with calls waiting (and the queues those overflow
to), and only the free operators who have one.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from telephony import routing
from telephony.routing import sql, standing
from telephony.routing_models import Reservation, Skill
from tests.telephony.helpers import CERTIFIED_UNTIL, at, make_operator, make_queue, sid


@pytest.fixture
def many_queues(db, tenants):
    """150 queues of each standing company (300 in all), none with a call."""
    queues = [make_queue(tenant) for tenant in (tenants.alpha, tenants.beta) for _ in range(150)]
    routing.rules_for([q.pk for q in queues])  # the per-process queue cache, warm
    return queues


def skilled_on(queues, **kwargs):
    operator = make_operator(**kwargs)
    Skill.objects.bulk_create(
        [
            Skill(operator=operator, queue=q, tier=1 + i % 3, certified_until=CERTIFIED_UNTIL)
            for i, q in enumerate(queues)
        ]
    )
    return operator


def test_the_free_operators_of_a_match_carry_only_the_skills_of_queues_with_calls_waiting(
    db, tenants, many_queues
):
    busy, overflow = many_queues[10], many_queues[160]
    busy.overflow_queue = overflow
    busy.save()
    routing.rules_for([busy.pk])
    routing.enqueue(tenant=tenants.alpha, queue=busy, call_sid=sid(), now=at(0))  # nobody free yet
    everywhere = skilled_on(many_queues)
    idle_elsewhere = skilled_on(many_queues[200:])  # no skill on a queue with work

    free = {f.profile.pk: f for f in sql.lock_free_operators(operator_ids=None, served=None)}

    assert idle_elsewhere.pk not in free  # not even locked
    # Of 300 skills, the two that matter: the call's queue and the queue it overflows to.
    assert sorted(q for q, _, _ in free[everywhere.pk].skills) == sorted([busy.pk, overflow.pk])
    assert routing.match(now=at(1))[0].operator_id == everywhere.pk


def test_matching_a_freed_operator_with_300_skills_reads_as_many_statements_as_with_one(
    db, tenants, many_queues, django_assert_num_queries
):
    queue = many_queues[7]
    for i in range(3):
        routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(i))
    operator = skilled_on(many_queues)
    standing.RECORDS_KEPT.snapshot()  # the queues' service-level records, warm (operators are short)
    # As test_routing's freed operator with two skills: the savepoint; the operator locked with
    # their skills (on queues with calls only); the waiting calls read; the chosen call locked,
    # marked reserved and offered; the operator's state and its event; the release.
    with django_assert_num_queries(6):
        made = routing.match(operator_ids=[operator.pk], now=at(10))
    assert [r.operator_id for r in made] == [operator.pk]
    wrapping_up = skilled_on(many_queues, state="wrap_up")  # as one freed after their call is read
    assert [q for q, _, _ in sql.lock_unreserved_operator(wrapping_up.pk).skills] == [queue.pk]


def test_a_call_queued_among_300_skilled_queues_is_offered_in_four_statements(
    db, tenants, many_queues, django_assert_num_queries
):
    operator = skilled_on(many_queues)
    queue = many_queues[42]
    with django_assert_num_queries(4):  # as test_routing's with one skill
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(0))
    assert call.reservations.get().operator_id == operator.pk


def test_nobody_free_for_a_queue_is_one_indexed_read_whatever_the_skills(
    db, tenants, many_queues, django_assert_num_queries
):
    skilled_on(many_queues[:100], state="break")
    skilled_on(many_queues[200:])  # free, but not for the queue below
    with django_assert_num_queries(1):
        assert routing.match(queue_ids=[many_queues[150].pk], now=at(0)) == []
    assert routing.staffed_queues([many_queues[50].pk, many_queues[150].pk]) == set()
    assert routing.staffed_queues([many_queues[250].pk]) == {many_queues[250].pk}


@pytest.mark.parametrize("with_calls", [1, 20])
def test_an_operator_freed_among_companies_with_contracts_is_offered_a_call_in_fixed_statements(
    db, tenants, many_queues, with_calls, django_assert_num_queries, django_capture_on_commit_callbacks
):
    """Fairness between companies costs no statement per company or queue: the seats in use of
    the queues that reserve or cap them are read with the calls, the service-level records and the
    pool are kept per process; and an operator offered a call in the very commit that frees them
    is not read again once it commits."""
    for i, queue in enumerate(many_queues[::15][:with_calls]):
        queue.reserved_seats = i % 2
        queue.max_share_percent = 50 if i % 3 == 0 else None
        queue.save()
        routing.enqueue(tenant=queue.tenant, queue=queue, call_sid=sid(), now=at(i))
    operator = skilled_on(many_queues, state="wrap_up")
    routing.rules_for([q.pk for q in many_queues])  # the queue cache, warm again after the saves
    standing.RECORDS_KEPT.snapshot()  # operators are short: the records are read
    standing.POOL_KEPT.snapshot()  # a cap in percent of the pool
    # The savepoint; the operator locked with their skills; is a call of theirs still bridged;
    # their state and its event; the waiting calls with the seats in use; the chosen call locked,
    # marked reserved and offered; the operator's state and its event; the release. After the
    # commit, nothing: they were offered a call.
    with django_assert_num_queries(8), django_capture_on_commit_callbacks(execute=True):
        routing.profile_set_state(profile_id=operator.pk, state="available", now=at(30))
    assert Reservation.objects.filter(operator=operator, state=Reservation.State.OFFERED).count() == 1


def test_an_operator_freed_with_no_call_waiting_for_them_costs_no_locking_pass(
    db, tenants, many_queues, django_assert_num_queries, django_capture_on_commit_callbacks
):
    """The usual wrap-up's end on a staffed floor: nothing waits in their 300 queues. In the
    change, their skills are read with their lock and no call is looked for; after its commit one
    read (still free? a call waiting for them?) instead of a second locking pass, then the dialer's
    look for outbound work. A call waiting elsewhere changes nothing; one in their queue is offered."""
    routing.enqueue(tenant=tenants.beta, queue=make_queue(tenants.beta), call_sid=sid(), now=at(0))
    operator = skilled_on(many_queues, state="wrap_up")
    # The savepoint; the operator locked with their skills (none on a queue with a call); is a call
    # of theirs still bridged; their state and its event; the release. After the commit: free and
    # a call waiting for them, one read; the dialer's outbound work for them, one read.
    with django_assert_num_queries(7), django_capture_on_commit_callbacks(execute=True):
        routing.profile_set_state(profile_id=operator.pk, state="available", now=at(30))
    assert not Reservation.objects.filter(operator=operator).exists()

    routing.profile_set_state(profile_id=operator.pk, state="break", now=at(40))
    routing.enqueue(tenant=tenants.alpha, queue=many_queues[20], call_sid=sid(), now=at(41))
    with django_capture_on_commit_callbacks(execute=True):
        routing.profile_set_state(profile_id=operator.pk, state="available", now=at(50))
    assert Reservation.objects.get(operator=operator).state == Reservation.State.OFFERED


def test_a_call_queued_with_many_operators_free_locks_only_the_best_few_for_it(db, tenants):
    """A thousand free operators must not be a thousand rows locked and read per call: the call
    locks the best few by the policy's order (own queue's best tier, then the overflow group;
    longest idle) and is offered to the policy's choice among them."""
    group = make_queue(tenants.alpha)
    queue = make_queue(tenants.alpha, overflow_after=30, overflow_queue=group)
    routing.rules_for([queue.pk, group.pk])
    overflow = [make_operator({group: 1}, idle=-100 - i) for i in range(5)]  # idle longest of all
    second_tier = [make_operator({queue: 2}, idle=i) for i in range(12)]  # tier 2 after 30 s only
    first_tier = [make_operator({queue: 1}, idle=20 + i) for i in range(12)]
    fields = {
        "tenant_id": tenants.alpha.pk, "queue_id": queue.pk, "call_sid": sid(), "priority": 0,
        "language": "", "enqueued_at": at(100), "direction": "inbound",
    }  # fmt: skip

    with transaction.atomic():  # what the call locks as it is put in line (undone: no match here)
        _, locked = sql.enqueue_once(fields=fields, served=[queue.pk, group.pk])
        transaction.set_rollback(True)

    best = [op.pk for op in first_tier[: sql.QUEUED_CALL_CANDIDATES]]
    assert [free.profile.pk for free in locked] == best
    assert not {op.pk for op in overflow + second_tier} & {free.profile.pk for free in locked}
    call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(100))
    assert call.reservations.get().operator_id == first_tier[0].pk


def test_a_call_none_of_the_best_few_suits_is_offered_to_the_one_who_does_after_commit(
    db, tenants, django_capture_on_commit_callbacks
):
    queue = make_queue(tenants.alpha)
    routing.rules_for([queue.pk])
    for i in range(sql.QUEUED_CALL_CANDIDATES + 3):
        make_operator({queue: 1}, idle=i, languages=["en"])
    speaks_french = make_operator({queue: 1}, idle=50, languages=["fr"])  # idle the shortest

    with django_capture_on_commit_callbacks(execute=True):
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), language="fr", now=at(100))

    assert call.reservations.get().operator_id == speaks_french.pk
