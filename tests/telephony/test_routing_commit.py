"""A freed operator or a queued call is matched once the change commits, and a change committing at
the same time as another's is never missed by both."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from django.db import connection, transaction

from telephony import routing
from telephony.models import OperatorProfile, Reservation, WaitingCall
from telephony.routing import profile_set_state
from tests.telephony.helpers import at, make_operator, make_queue, sid


def offered(call: WaitingCall) -> Reservation | None:
    return Reservation.objects.filter(call_id=call.pk, state="offered").first()


def test_a_freed_operator_is_offered_a_call_in_the_commit_that_frees_them(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid())
    operator = make_operator({queue: 1}, state="break")
    sid_ = transaction.savepoint()  # both or neither
    profile_set_state(profile_id=operator.pk, state="available")
    assert offered(call).operator_id == operator.pk
    transaction.savepoint_rollback(sid_)
    operator.refresh_from_db()
    assert operator.state == "break" and offered(call) is None
    with commit():
        profile_set_state(profile_id=operator.pk, state="available")
    assert offered(call).operator_id == operator.pk
    operator.refresh_from_db()
    assert operator.state == "reserved"


def test_a_call_queued_with_a_free_operator_is_offered_once_it_commits(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1})
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid())
    assert offered(call).operator_id == operator.pk


def test_a_call_queued_when_someone_is_free_is_served_after_the_calls_before_it(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1}, state="break")
    earlier = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(0))
    OperatorProfile.objects.filter(pk=operator.pk).update(state="available")  # freed, not matched yet
    with commit():
        later = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(30))
    assert offered(earlier).operator_id == operator.pk  # waiting longest
    assert offered(later) is None
    vip = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), priority=5, now=at(40))
    OperatorProfile.objects.filter(pk=make_operator({queue: 1}, state="break").pk).update(state="available")
    with commit():
        newest = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(50))
    assert offered(vip) is not None  # priority first, though it came after ``later``
    assert offered(later) is None and offered(newest) is None


@pytest.fixture
def held() -> Iterator[Callable[[Callable[[], object]], None]]:
    """Run a change in another thread's transaction and hold it open until the test lets it commit."""
    threads: list[threading.Thread] = []
    release = threading.Event()
    errors: list[BaseException] = []

    def hold(change: Callable[[], object]) -> None:
        written = threading.Event()

        def run() -> None:
            try:
                with transaction.atomic():
                    change()
                    written.set()
                    assert release.wait(20), "never released"
            except BaseException as exc:
                errors.append(exc)
                written.set()
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        threads.append(thread)
        assert written.wait(20)

    hold.commit = lambda: (release.set(), [t.join(20) for t in threads])  # type: ignore[attr-defined]
    yield hold
    release.set()
    for thread in threads:
        thread.join(20)
    assert errors == []


def _tidy(operator: OperatorProfile, call: WaitingCall) -> None:
    routing.leave(call_sid=call.call_sid, outcome="abandoned")
    OperatorProfile.objects.filter(pk=operator.pk).update(state="offline")


def test_a_call_queued_while_an_operator_is_being_freed_is_offered_when_that_commits(
    committed, tenants, held
):
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1}, state="break")
    held(lambda: profile_set_state(profile_id=operator.pk, state="available"))
    # The operator's change is not committed: this call's own look finds nobody free.
    with transaction.atomic():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid())
    assert offered(call) is None
    held.commit()
    try:
        assert offered(call).operator_id == operator.pk  # the operator's look after its commit
    finally:
        _tidy(operator, call)


def test_an_operator_freed_while_a_call_is_being_queued_gets_it_when_that_commits(committed, tenants, held):
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1}, state="break")
    sid_ = sid()
    held(lambda: routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid_))
    # The call is not committed: the freed operator's own look finds no call.
    profile_set_state(profile_id=operator.pk, state="available")
    assert not Reservation.objects.filter(operator=operator, state="offered").exists()
    held.commit()
    call = WaitingCall.objects.get(call_sid=sid_)
    try:
        assert offered(call).operator_id == operator.pk  # the call's look after its commit
    finally:
        _tidy(operator, call)


def test_a_call_another_transaction_holds_is_not_reserved_and_is_matched_once_free(committed, tenants, held):
    queue = make_queue(tenants.alpha)
    with transaction.atomic():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid())  # nobody free yet
    held(lambda: WaitingCall.objects.select_for_update().get(pk=call.pk))  # e.g. the caller hanging up
    operator = make_operator({queue: 1})
    try:
        assert routing.match(operator_ids=[operator.pk]) == []  # looked again a few times, then gave up
        operator.refresh_from_db()
        assert operator.state == "available" and not Reservation.objects.filter(call_id=call.pk).exists()
        held.commit()
        (made,) = routing.match(operator_ids=[operator.pk])
        assert (made.call_id, made.operator_id) == (call.pk, operator.pk)
    finally:
        _tidy(operator, call)


def test_an_operator_whose_best_call_another_transaction_holds_gets_the_next_one(committed, tenants, held):
    queue = make_queue(tenants.alpha)
    with transaction.atomic():  # nobody free yet: both wait, the first in line first
        first = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid())
        second = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid())
    held(lambda: WaitingCall.objects.select_for_update().get(pk=first.pk))  # another pass took it
    operator = make_operator({queue: 1})
    try:
        (made,) = routing.match(operator_ids=[operator.pk])
        assert (made.call_id, made.operator_id) == (second.pk, operator.pk)
    finally:
        held.commit()
        _tidy(operator, first)
        routing.leave(call_sid=second.call_sid, outcome="abandoned")
