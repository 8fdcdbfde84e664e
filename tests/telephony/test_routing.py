"""The router through its domain functions: tiers, fairness, priority, overflow, re-routing (R11, R14-R20)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from telephony import routing
from telephony.models import OperatorEvent, Queue, Reservation, WaitingCall
from telephony.routing import standing
from tests.telephony.helpers import at, make_operator, make_queue, sid


def offer_of(call: WaitingCall) -> Reservation | None:
    return Reservation.objects.filter(call=call, state="offered").first()


def test_a_new_call_is_offered_to_the_best_tier_first(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    make_operator({queue: 2}, idle=0)
    best = make_operator({queue: 1}, idle=50)
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(100))
    reservation = offer_of(call)
    assert reservation.operator == best
    call.refresh_from_db()
    best.refresh_from_db()
    assert call.state == "reserved" and call.reservation_count == 1
    assert best.state == "reserved"
    assert OperatorEvent.objects.filter(operator=best, kind="offered", call_sid=call.call_sid).exists()


def test_the_longest_idle_operator_of_a_tier_gets_the_call(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    make_operator({queue: 1}, idle=30)
    longest = make_operator({queue: 1}, idle=10)
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(100))
    assert offer_of(call).operator == longest


def test_enqueue_is_idempotent_on_the_call_sid(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    call_sid = sid()
    with commit():
        first = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=call_sid, now=at(0))
        again = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=call_sid, now=at(5))
    assert first.pk == again.pk and WaitingCall.objects.filter(call_sid=call_sid).count() == 1


def test_a_priority_call_goes_before_calls_waiting_longer(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    with commit():
        routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(0))
        vip = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), priority=5, now=at(50))
    operator = make_operator({queue: 1})
    with commit():
        routing.match(operator_ids=[operator.pk], now=at(60))
    assert offer_of(vip).operator == operator


def test_a_worse_tier_and_then_the_overflow_group_are_admitted_after_the_overflow_time(db, tenants, commit):
    group = make_queue(tenants.beta)
    queue = make_queue(tenants.alpha, overflow_after=30, overflow_queue=group)
    tier2 = make_operator({queue: 2})
    with commit():
        first = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(0))
        second = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(1))
    assert offer_of(first) is None
    backup = make_operator({group: 1})
    assert routing.match(now=at(29)) == []
    with commit():
        made = routing.match(now=at(31))
    assert {(r.call_id, r.operator_id) for r in made} == {(first.pk, tier2.pk), (second.pk, backup.pk)}


def test_a_rejected_offer_goes_to_the_next_operator_and_the_call_keeps_its_place(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    first = make_operator({queue: 1}, idle=0)
    second = make_operator({queue: 1}, idle=10)
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(100))
    with commit():
        routing.reject(reservation_id=offer_of(call).pk, operator=first.user, now=at(105))
    assert offer_of(call).operator == second
    call.refresh_from_db()
    assert call.enqueued_at == at(100) and call.reservation_count == 2
    first.refresh_from_db()
    assert first.state == "available"


def test_an_unanswered_offer_expires_and_is_rerouted(db, tenants, commit):
    queue = make_queue(tenants.alpha, ring_timeout=15)
    first = make_operator({queue: 1}, idle=0)
    second = make_operator({queue: 1}, idle=10)
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(100))
    assert routing.expire_reservations(now=at(114)) == 0
    with commit():
        assert routing.expire_reservations(now=at(116)) == 1
    assert offer_of(call).operator == second
    assert Reservation.objects.get(call=call, operator=first).state == "expired"
    first.refresh_from_db()
    assert first.missed_offers == 1 and first.state == "available"


def test_a_look_for_overdue_offers_expires_at_most_its_limit(db, tenants, commit):
    """The web process's look for lost pushes (``console.floor.OFFER_LOOK_LIMIT``) expires a
    bounded number at a time; the rest at the next look."""
    queue = make_queue(tenants.alpha, ring_timeout=15)
    for idle in (0, 10):
        make_operator({queue: 1}, idle=idle)
    with commit():
        calls = [
            routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(i)) for i in (0, 1)
        ]
    assert all(offer_of(call) for call in calls)
    with commit():
        assert routing.expire_reservations(now=at(20), limit=1) == 1
    assert Reservation.objects.filter(state="expired").count() == 1
    with commit():
        assert routing.expire_reservations(now=at(20), limit=1) == 1
    assert Reservation.objects.filter(state="expired").count() == 2


def test_an_operator_is_set_away_after_repeated_misses(db, tenants, commit, settings):
    settings.ROUTING_MISSES_BEFORE_AWAY = 2
    queue = make_queue(tenants.alpha, ring_timeout=10)
    sleepy = make_operator({queue: 1})
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(0))
    with commit():
        routing.expire_reservations(now=at(11))
    assert offer_of(call).operator == sleepy  # the only operator: offered again (at the real time)
    with commit():
        routing.expire_reservations(now=timezone.now() + dt.timedelta(seconds=11))
    sleepy.refresh_from_db()
    assert (sleepy.state, sleepy.break_reason, sleepy.missed_offers) == ("break", "missed offers", 2)
    call.refresh_from_db()
    assert call.state == "waiting" and offer_of(call) is None


def test_operator_logout_reroutes_the_reserved_call(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    leaving = make_operator({queue: 1}, idle=0)
    staying = make_operator({queue: 1}, idle=10)
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(100))
    with commit():
        routing.operator_set_state(operator=leaving.user, state="offline", now=at(101))
    leaving.refresh_from_db()
    assert leaving.state == "offline"
    assert offer_of(call).operator == staying
    assert Reservation.objects.get(call=call, operator=leaving).state == "cancelled"


def test_an_operator_asking_to_be_available_while_an_offer_rings_keeps_the_offer(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1})
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(0))
    with commit():
        routing.operator_set_state(operator=operator.user, state="available", now=at(1))
    operator.refresh_from_db()
    assert operator.state == "reserved" and offer_of(call).operator == operator


def test_accept_puts_the_operator_on_call_and_the_end_of_the_call_in_wrap_up(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1})
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(0))
    with commit():
        routing.accept(reservation_id=offer_of(call).pk, operator=operator.user, now=at(3))
    call.refresh_from_db()
    operator.refresh_from_db()
    assert (call.state, call.operator, call.answered_at) == ("bridged", operator, at(3))
    assert operator.state == "on_call"
    with commit():
        routing.leave(call_sid=call.call_sid, outcome="handled", now=at(60))
    operator.refresh_from_db()
    assert operator.state == "wrap_up"
    assert Reservation.objects.get(call=call).state == "completed"


def test_an_operator_cannot_accept_another_operators_offer(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    make_operator({queue: 1})
    other = make_operator({})
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(0))
    with pytest.raises(PermissionError):
        routing.accept(reservation_id=offer_of(call).pk, operator=other.user)


def test_a_caller_hanging_up_cancels_the_offer_and_frees_the_operator(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1})
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(0))
    with commit():
        routing.leave(call_sid=call.call_sid, outcome="abandoned", now=at(4))
    call.refresh_from_db()
    operator.refresh_from_db()
    assert (call.state, call.outcome) == ("left", "abandoned")
    assert operator.state == "available"


def test_a_tenants_calls_never_reach_operators_without_a_skill_for_its_queue(db, tenants, commit):
    alpha_queue, beta_queue = make_queue(tenants.alpha), make_queue(tenants.beta)
    beta_only = make_operator({beta_queue: 1})
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=alpha_queue, call_sid=sid(), now=at(0))
        routing.match(now=at(10_000))
    assert offer_of(call) is None
    assert not Reservation.objects.filter(operator=beta_only).exists()


def test_the_database_refuses_a_second_live_reservation(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1})
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(0))
    other = make_operator({queue: 1})
    with pytest.raises(IntegrityError), transaction.atomic():
        Reservation.objects.create(call=call, operator=other, offered_at=at(1), expires_at=at(9))
    second = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(0))
    with pytest.raises(IntegrityError), transaction.atomic():
        Reservation.objects.create(call=second, operator=operator, offered_at=at(1), expires_at=at(9))


def test_expected_wait_counts_the_calls_ahead_and_the_staffed_operators(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    calls = [routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(i)) for i in range(4)]
    nobody_staffed = routing.expected_wait(call_sid=calls[2].call_sid, now=at(10))
    assert nobody_staffed == (3, queue.max_wait)
    make_operator({queue: 1}, state="on_call")
    make_operator({queue: 1}, state="wrap_up")
    done = WaitingCall.objects.create(
        tenant=tenants.alpha, queue=queue, call_sid=sid(), enqueued_at=at(0), state="left",
        answered_at=at(0), left_at=at(120), operator=make_operator({}, state="offline"),
    )  # fmt: skip
    assert done.pk
    # 3rd in line, 2 operators: 2 rounds of the 120 s mean handle time.
    assert routing.expected_wait(call_sid=calls[2].call_sid, now=at(130)) == (3, 240)
    make_operator({queue: 1}, state="break")  # away: not counted
    assert routing.expected_wait(call_sid=calls[2].call_sid, now=at(130)) == (3, 240)
    assert routing.expected_wait(call_sid=done.call_sid, now=at(130)) == (0, 0)  # no longer in line
    assert routing.expected_wait(call_sid=sid(), now=at(130)) == (0, 0)  # not known to the router
    standing = routing.turn(call_sid=calls[0].call_sid, queue_id=queue.pk, now=at(130))
    assert standing == (True, 1, 120)
    assert routing.turn(call_sid=calls[0].call_sid, queue_id=make_queue(tenants.alpha).pk).staffed is False


def test_the_mean_handle_time_is_read_once_a_minute_and_only_from_recent_calls(
    db, tenants, django_assert_num_queries
):
    """Every wait announcement asks for the queue's mean handle time: the database averages the
    calls that ended in the hour (a call answered more than ``LONGEST_CALL`` before is left out, so
    the queue's history is never read), and each process keeps it for the minute."""
    queue = make_queue(tenants.alpha)
    calls = [routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(i)) for i in range(3)]
    make_operator({queue: 1}, state="on_call")
    agent = make_operator({}, state="offline")

    def ended(answered: dt.datetime, left: dt.datetime) -> None:
        WaitingCall.objects.create(
            tenant=tenants.alpha, queue=queue, call_sid=sid(), enqueued_at=answered, state="left",
            answered_at=answered, left_at=left, operator=agent,
        )  # fmt: skip

    now = at(600).replace(second=0)  # a minute's start: a second later is the same minute
    ended(now - dt.timedelta(minutes=10), now - dt.timedelta(minutes=6))  # 240 s
    ended(now - routing.queues.LONGEST_CALL - dt.timedelta(hours=2), now - dt.timedelta(minutes=5))
    assert routing.expected_wait(call_sid=calls[1].call_sid, now=now) == (2, 480)  # 2 rounds of 240 s

    ended(now - dt.timedelta(minutes=4), now - dt.timedelta(minutes=3))  # 60 s, in the same minute
    with django_assert_num_queries(1):  # where the call stands (``sql.WHERE_IN_LINE``): no handle read
        assert routing.expected_wait(call_sid=calls[1].call_sid, now=now + dt.timedelta(seconds=1)) == (
            2,
            480,
        )
    # The next minute reads it again: (240 + 60) / 2 = 150 s a round.
    assert routing.expected_wait(call_sid=calls[1].call_sid, now=now + dt.timedelta(minutes=1)) == (2, 300)


def test_an_operator_cannot_put_themselves_on_a_call_or_reserve(db, tenants):
    from telephony.operators import InvalidTransition

    operator = make_operator({}, state="offline")
    for state in ("on_call", "reserved"):
        with pytest.raises((InvalidTransition, ValueError)):
            routing.operator_set_state(operator=operator.user, state=state)
    routing.operator_set_state(operator=operator.user, state="break", reason="lunch")
    with pytest.raises(InvalidTransition):  # from a break straight to wrap-up
        routing.operator_set_state(operator=operator.user, state="wrap_up")


def test_the_routing_tick_expires_offers_and_opens_overflow_tiers(db, tenants, commit, monkeypatch):
    from telephony.tasks import routing_tick

    queue = make_queue(tenants.alpha, overflow_after=30)
    tier2 = make_operator({queue: 2})
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=timezone.now())
    assert offer_of(call) is None
    WaitingCall.objects.filter(pk=call.pk).update(enqueued_at=timezone.now() - dt.timedelta(seconds=31))
    with commit():
        assert routing_tick() == 1
    assert offer_of(call).operator == tier2


def test_a_routing_tick_finding_another_running_does_nothing(db, tenants, commit):
    """Ticks never overlap (issue 23): one that outlasts its 2 s is not joined by the next."""
    from config.single_flight import single_flight
    from telephony.tasks import routing_tick

    queue = make_queue(tenants.alpha, overflow_after=30)
    make_operator({queue: 2})
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=timezone.now())
    WaitingCall.objects.filter(pk=call.pk).update(enqueued_at=timezone.now() - dt.timedelta(seconds=31))
    with single_flight("routing-tick", timeout=5) as mine, commit():
        assert mine
        assert routing_tick() == 0  # skipped: the other tick holds the lock
    assert offer_of(call) is None
    with commit():
        assert routing_tick() == 1
    assert offer_of(call) is not None


def test_matching_a_freed_operator_takes_a_fixed_number_of_queries(db, tenants, django_assert_num_queries):
    queue = make_queue(tenants.alpha)
    for i in range(5):
        routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(i))
    other = make_queue(tenants.beta)
    operator = make_operator({queue: 1, other: 2})
    routing.rules_for([queue.pk, other.pk])  # the per-process queue cache, warm
    standing.RECORDS_KEPT.snapshot()  # and the queues' service-level records (operators are short)
    # The savepoint; the operator locked with their skills; the waiting calls read; the chosen
    # call locked, marked reserved and offered (one statement); the operator's state and its
    # event (``operators.transition``, one statement); the release.
    with django_assert_num_queries(6):
        made = routing.match(operator_ids=[operator.pk], now=at(10))
    assert len(made) == 1


def test_a_call_queued_when_someone_is_free_is_offered_in_four_queries(
    db, tenants, django_assert_num_queries
):
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1})
    routing.rules_for([queue.pk])  # the per-process queue cache, warm
    # In the caller's transaction: the call put in line with the free operators locked (one
    # statement); the waiting calls read; the call locked, marked reserved and offered; the
    # operator's state and its event.
    with django_assert_num_queries(4):
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(0))
    assert offer_of(call).operator == operator


def test_a_call_arriving_when_nobody_is_free_costs_one_read(db, tenants, commit, django_assert_num_queries):
    queue = make_queue(tenants.alpha)
    overflow = make_queue(tenants.alpha)
    queue.overflow_queue = overflow
    queue.save()
    busy = make_operator({queue: 1}, state="break")
    call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(0))
    routing.rules_for([queue.pk, overflow.pk])  # queue rules are cached per process
    with django_assert_num_queries(1):
        assert routing.match(queue_ids=[queue.pk], now=at(1)) == []
    # An operator of the queue it overflows to is free: the full pass runs and offers the call.
    make_operator({overflow: 1})
    with commit():
        made = routing.match(queue_ids=[queue.pk], now=at(60))
    assert [r.call_id for r in made] == [call.pk] and busy.pk not in [r.operator_id for r in made]


def test_accepting_an_offer_takes_a_fixed_number_of_queries(db, tenants, commit, django_assert_num_queries):
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1})
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(0))
    offer = offer_of(call)
    # The savepoint; the offer's call read; the call, the operator and the reservation locked
    # (in that order); the reservation and the call written; the operator's state and its event
    # (``operators.transition``, one statement); the release.
    with django_assert_num_queries(9):
        routing.accept(reservation_id=offer.pk, operator=operator.user, now=at(3))


def test_every_state_change_goes_through_the_transition_table_with_one_event(db, tenants):
    from telephony.operators import InvalidTransition, transition

    operator = make_operator({}, state="break")
    with pytest.raises(InvalidTransition):  # nobody is offered a call while on a break
        transition([operator], "reserved", now=at(0))
    operator.refresh_from_db()
    assert operator.state == "break" and not OperatorEvent.objects.filter(operator=operator).exists()
    transition([operator], "available", now=at(1), reason="back", idle_since=at(1))
    (event,) = OperatorEvent.objects.filter(operator=operator)
    operator.refresh_from_db()
    assert (operator.state, operator.state_since, operator.idle_since) == ("available", at(1), at(1))
    assert (event.kind, event.state, event.at) == ("state", "available", at(1))
    assert transition([operator], "available", now=at(2)) == []  # no change, no event
    assert OperatorEvent.objects.filter(operator=operator).count() == 1


def test_a_queue_created_after_the_rules_were_read_is_routed_at_once(db, tenants, commit):
    """The process keeps queue rules; a queue another process created (no save signal here) is
    read when first met, never a KeyError that leaves the call unoffered."""
    routing.rules_for([make_queue(tenants.alpha).pk])  # this process has just read every queue
    (fresh,) = Queue.objects.bulk_create(
        [Queue(tenant=tenants.alpha, name="made elsewhere", overflow_after=0)]
    )
    operator = make_operator({fresh: 1})
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=fresh, call_sid=sid(), now=at(0))
    assert offer_of(call).operator_id == operator.pk
