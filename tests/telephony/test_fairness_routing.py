"""Fairness between client companies through the real router and database (issue 20): the queue's
contract terms as the router reads them, the sliding-window record, reserved and capped seats, the
hard limit, and the router's view for the wallboard."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from telephony import routing
from telephony.models import OperatorProfile, Queue, Reservation, WaitingCall
from telephony.routing import fairness, standing
from tests.telephony.helpers import make_operator, make_queue, sid


def waiting(tenant, queue: Queue, waited: float, now: dt.datetime, priority: int = 0) -> WaitingCall:
    return WaitingCall.objects.create(
        tenant=tenant,
        queue=queue,
        call_sid=sid(),
        enqueued_at=now - dt.timedelta(seconds=waited),
        priority=priority,
    )


def history(tenant, queue: Queue, now: dt.datetime, *, within: int = 0, late: int = 0, abandoned: int = 0):
    """Calls that left the line in the last minutes: answered within 20 s, late, or abandoned."""
    operator = make_operator(state="offline")
    ago = now - dt.timedelta(minutes=5)
    rows = []
    for wait, answered, count in ((5, True, within), (60, True, late), (40, False, abandoned)):
        for _ in range(count):
            out = ago + dt.timedelta(seconds=wait)
            rows.append(
                WaitingCall(
                    tenant=tenant, queue=queue, call_sid=sid(), enqueued_at=ago, state="left",
                    answered_at=out if answered else None, left_at=out + dt.timedelta(seconds=90),
                    operator=operator if answered else None, outcome="handled" if answered else "abandoned",
                )
            )  # fmt: skip
    WaitingCall.objects.bulk_create(rows)
    standing.RECORDS_KEPT.invalidate()


def on_call(tenant, queue: Queue, now: dt.datetime, seats: int) -> None:
    """``seats`` operators on calls of this queue now."""
    for _ in range(seats):
        operator = make_operator({queue: 1}, state="on_call")
        WaitingCall.objects.create(
            tenant=tenant, queue=queue, call_sid=sid(), enqueued_at=now - dt.timedelta(seconds=30),
            state="bridged", answered_at=now - dt.timedelta(seconds=20), operator=operator,
        )  # fmt: skip


def offered_call(operator) -> WaitingCall:
    return Reservation.objects.get(operator=operator, state="offered").call


def test_the_queue_s_contract_terms_reach_the_router_and_a_save_refreshes_them(db, tenants):
    queue = make_queue(tenants.alpha, sl_target_percent=90, service_level_seconds=15, reserved_seats=2)
    rule = routing.rules_for([queue.pk])[queue.pk]
    assert rule.terms == fairness.Terms(90, 15, 2, None, None) and rule.rule.company == tenants.alpha.pk
    queue.max_share_percent = 30
    queue.save()
    assert routing.rules_for([queue.pk])[queue.pk].terms.max_percent == 30


def test_a_freed_operator_goes_to_the_company_furthest_behind_not_the_oldest_call(db, tenants, commit):
    now = timezone.now()
    ahead, behind = make_queue(tenants.alpha), make_queue(tenants.beta)
    history(tenants.alpha, ahead, now, within=20)
    history(tenants.beta, behind, now, within=5, late=10, abandoned=5)
    waiting(tenants.alpha, ahead, 15, now)
    expected = waiting(tenants.beta, behind, 5, now)
    operator = make_operator({ahead: 1, behind: 1}, state="wrap_up")
    with commit():
        routing.profile_set_state(profile_id=operator.pk, state="available")
    assert offered_call(operator) == expected


def test_reserved_seats_are_honoured_while_the_company_s_calls_wait(db, tenants, commit):
    now = timezone.now()
    reserved = make_queue(tenants.alpha, reserved_seats=2)
    other = make_queue(tenants.beta)
    on_call(tenants.alpha, reserved, now, seats=1)
    history(tenants.beta, other, now, late=10)  # the other company far behind, its call older
    waiting(tenants.beta, other, 50, now)
    expected = waiting(tenants.alpha, reserved, 2, now)
    operator = make_operator({reserved: 1, other: 1}, state="wrap_up")
    with commit():
        routing.profile_set_state(profile_id=operator.pk, state="available")
    assert offered_call(operator) == expected


def test_a_capped_company_does_not_get_another_seat_while_another_company_waits(db, tenants, commit):
    now = timezone.now()
    capped = make_queue(tenants.alpha, max_seats=1)
    other = make_queue(tenants.beta)
    on_call(tenants.alpha, capped, now, seats=1)
    history(tenants.alpha, capped, now, late=10)  # far behind, and its call the oldest
    first = waiting(tenants.alpha, capped, 60, now)
    expected = waiting(tenants.beta, other, 1, now)
    operator = make_operator({capped: 1, other: 1}, state="wrap_up")
    with commit():
        routing.profile_set_state(profile_id=operator.pk, state="available")
    assert offered_call(operator) == expected
    # Nobody else waits: the capped company's call is served rather than leave an operator idle.
    second = make_operator({capped: 1, other: 1}, state="wrap_up")
    with commit():
        routing.profile_set_state(profile_id=second.pk, state="available")
    assert offered_call(second) == first


def test_a_call_past_the_hard_limit_wins(db, tenants, commit, settings):
    settings.ROUTING_HARD_LIMIT_SECONDS = 60
    now = timezone.now()
    ahead, behind = make_queue(tenants.alpha), make_queue(tenants.beta)
    history(tenants.alpha, ahead, now, within=30)
    history(tenants.beta, behind, now, late=10)
    starving = waiting(tenants.alpha, ahead, 61, now)
    waiting(tenants.beta, behind, 1, now, priority=5)  # before the other in today's order
    operator = make_operator({ahead: 1, behind: 1}, state="wrap_up")
    with commit():
        routing.profile_set_state(profile_id=operator.pk, state="available")
    assert offered_call(operator) == starving


def test_the_window_record_in_sql_counts_as_the_definitions(db, tenants):
    now = timezone.now()
    queue = make_queue(tenants.alpha, service_level_seconds=20)
    history(tenants.alpha, queue, now, within=3, late=2, abandoned=4)
    operator = make_operator(state="offline")
    ago = now - dt.timedelta(minutes=2)
    WaitingCall.objects.bulk_create(
        [
            # exactly at the threshold: within; a microsecond over it: not
            WaitingCall(tenant=tenants.alpha, queue=queue, call_sid=sid(), enqueued_at=ago, state="left",
                        answered_at=ago + dt.timedelta(seconds=20), operator=operator, left_at=now),
            WaitingCall(tenant=tenants.alpha, queue=queue, call_sid=sid(), enqueued_at=ago, state="left",
                        answered_at=ago + dt.timedelta(seconds=20, microseconds=1), operator=operator,
                        left_at=now),
            # a short abandon (5 s) is left out; one of 5.001 s counts
            WaitingCall(tenant=tenants.alpha, queue=queue, call_sid=sid(), enqueued_at=ago, state="left",
                        left_at=ago + dt.timedelta(seconds=5), outcome="abandoned"),
            WaitingCall(tenant=tenants.alpha, queue=queue, call_sid=sid(), enqueued_at=ago, state="left",
                        left_at=ago + dt.timedelta(seconds=5, milliseconds=1), outcome="abandoned"),
            # the dialer's outbound call is no queue's offered call; an hour-old call is out of the window
            WaitingCall(tenant=tenants.alpha, queue=queue, call_sid=sid(), enqueued_at=ago, state="left",
                        answered_at=ago, operator=operator, left_at=now, direction="outbound"),
            WaitingCall(tenant=tenants.alpha, queue=queue, call_sid=sid(), state="left", outcome="abandoned",
                        enqueued_at=now - dt.timedelta(hours=1), left_at=now - dt.timedelta(minutes=59)),
        ]
    )  # fmt: skip
    expected = fairness.Record()
    terms = fairness.Terms(sl_seconds=20)
    for waited_ms, answered, abandoned in (
        [(5000, True, False)] * 3
        + [(60000, True, False)] * 2
        + [(40000, False, True)] * 4
        + [(20000, True, False), (20001, True, False), (5000, False, True), (5001, False, True)]
    ):
        expected = expected.add(waited_ms=waited_ms, answered=answered, abandoned=abandoned, terms=terms)
    found = standing.records_since(now - dt.timedelta(minutes=30))[queue.pk]
    assert found == expected == fairness.Record(4, 12)


def test_the_router_s_view_names_the_favoured_company_and_why(db, tenants):
    now = timezone.now()
    ahead = make_queue(tenants.alpha, reserved_seats=3, max_seats=5)
    behind = make_queue(tenants.beta, sl_target_percent=90)
    history(tenants.alpha, ahead, now, within=10)
    history(tenants.beta, behind, now, within=5, late=5)
    on_call(tenants.alpha, ahead, now, seats=3)
    waiting(tenants.alpha, ahead, 30, now)
    waiting(tenants.beta, behind, 3, now)
    view = standing.now_favoured(now)
    assert view.favoured_queue == behind.pk and view.favoured_kind == "behind"
    assert view.reason.startswith("furthest behind its target") and "90 % in 20 s" in view.reason
    mine = {s.queue: s for s in view.standings}
    assert mine[ahead.pk].seats == 3 and mine[ahead.pk].cap == 5 and mine[ahead.pk].kind == "behind"
    assert mine[behind.pk].waiting == 1
    # One seat fewer in use: the reservation is unmet, and the view says so.
    WaitingCall.objects.filter(queue=ahead, state="bridged").first().delete()
    view = standing.now_favoured(now)
    assert view.favoured_queue == ahead.pk and view.favoured_kind == "reserved"
    assert "2 of its 3 reserved seats" in view.reason


def test_a_cap_in_percent_is_of_the_operators_logged_in(db, tenants, commit):
    now = timezone.now()
    capped = make_queue(tenants.alpha, max_share_percent=50)
    other = make_queue(tenants.beta)
    history(tenants.alpha, capped, now, late=10)  # far behind, its call the oldest
    on_call(tenants.alpha, capped, now, seats=1)
    first = waiting(tenants.alpha, capped, 60, now)
    expected = waiting(tenants.beta, other, 1, now)
    logged_in = OperatorProfile.objects.exclude(state="offline").count()
    # Half of those logged in (the one on a call, the one freed, and these) is more than one seat.
    for _ in range(4 - logged_in - 1):
        make_operator(state="break")
    operator = make_operator({capped: 1, other: 1}, state="wrap_up")
    standing.POOL_KEPT.invalidate()
    assert standing.pool() == 4
    with commit():
        routing.profile_set_state(profile_id=operator.pk, state="available")
    assert offered_call(operator) == first  # 1 seat of a cap of 2: served as the one furthest behind
    second = make_operator({capped: 1, other: 1}, state="wrap_up")
    standing.POOL_KEPT.invalidate()
    with commit():
        routing.profile_set_state(profile_id=second.pk, state="available")
    assert offered_call(second) == expected  # 2 seats of 2 (pool 5): the cap holds while Beta waits


def test_a_company_with_two_queues_under_different_terms_through_the_router(db, tenants, commit):
    """Alpha's contract names two queues: Orders (90 % in 20 s, at most 1 seat) and Care (70 % in
    60 s, 1 reserved seat); Beta has one queue far behind its target. Each rule holds per queue."""
    now = timezone.now()
    orders = make_queue(tenants.alpha, sl_target_percent=90, max_seats=1)
    care = make_queue(tenants.alpha, sl_target_percent=70, service_level_seconds=60, reserved_seats=1)
    other = make_queue(tenants.beta)
    on_call(tenants.alpha, orders, now, seats=1)  # Orders at its cap
    history(tenants.alpha, orders, now, late=10)  # and far behind, its call the oldest
    history(tenants.beta, other, now, within=5, late=5)
    oldest = waiting(tenants.alpha, orders, 90, now)
    beta_call = waiting(tenants.beta, other, 10, now)
    care_call = waiting(tenants.alpha, care, 5, now)
    view = standing.now_favoured(now)
    kinds = {s.queue: s.kind for s in view.standings}
    assert (kinds[orders.pk], kinds[care.pk], kinds[other.pk]) == ("capped", "reserved", "behind")
    assert view.favoured_queue == care.pk  # Care's reservation, though Orders is Alpha's too and capped
    skills = {orders: 1, care: 1, other: 1}
    served = []
    for _ in range(3):
        operator = make_operator(skills, state="wrap_up")
        with commit():
            routing.profile_set_state(profile_id=operator.pk, state="available")
        served.append(offered_call(operator))
    # Care's reserved seat first; then Beta (Orders is at its cap while Beta waits); Orders last,
    # once nobody else waits (a cap never leaves an operator idle).
    assert served == [care_call, beta_call, oldest]
