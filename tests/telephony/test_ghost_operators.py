"""No operator left on call with nobody (issue 22's ghost operators): the presence sweep keeps an
operator whose console went away while their call goes on (a reload finds it), and sets offline
one whose call is over, or whose console was gone before their call ended (no wrap-up for ever)."""

from __future__ import annotations

import time

from telephony import console_presence, routing
from telephony.models import OperatorProfile, Reservation
from tests.telephony.helpers import make_operator, make_queue, sid


def _state(operator: OperatorProfile) -> str:
    return OperatorProfile.objects.get(pk=operator.pk).state


def _on_a_call(tenants, commit) -> tuple[OperatorProfile, str]:
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1})
    call_sid = sid()
    with commit():
        routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=call_sid)
    offer = Reservation.objects.get(call__call_sid=call_sid, state="offered")
    with commit():
        routing.accept(reservation_id=offer.pk, operator=operator.user)
    assert _state(operator) == "on_call"
    return operator, call_sid


def test_an_operator_on_call_with_no_console_and_no_call_goes_offline(db, tenants, presence, commit):
    ghost = make_operator({}, state="on_call")  # their call ended without bringing them to wrap-up
    now = time.time()
    console_presence.beat(operator_id=ghost.pk, channel="c", node="n", now=now - 30)
    with commit():
        gone = console_presence.sweep(now=now)
    assert ghost.pk in gone and _state(ghost) == "offline"


def test_no_console_during_a_call_keeps_it_then_its_end_takes_the_operator_offline_at_once(
    db, tenants, presence, commit
):
    operator, call_sid = _on_a_call(tenants, commit)
    now = time.time()
    console_presence.beat(operator_id=operator.pk, channel="c", node="n", now=now - 30)
    with commit():
        assert console_presence.sweep(now=now) == []
    assert _state(operator) == "on_call"  # the call goes on: a page reload finds it
    with commit():
        routing.leave(call_sid=call_sid, outcome="completed")
    assert _state(operator) == "wrap_up"
    with commit():
        gone = console_presence.sweep(now=time.time())
    assert gone == [operator.pk] and _state(operator) == "offline"  # nobody there to wrap it up


def test_a_console_closed_after_the_call_ended_gets_the_wrap_up_grace(db, tenants, presence, commit):
    operator, call_sid = _on_a_call(tenants, commit)
    now = time.time()
    console_presence.beat(operator_id=operator.pk, channel="c", node="n", now=now - 16)
    console_presence.beat(operator_id=make_operator({}).pk, channel="d", node="n", now=now)
    with commit():
        routing.leave(call_sid=call_sid, outcome="completed")
    assert console_presence.leave(operator_id=operator.pk, channel="c", node="n") is True
    with commit():
        assert console_presence.sweep(now=time.time() + 1) == []
    assert _state(operator) == "wrap_up"  # they may come back to their wrap-up
    with commit():
        later = time.time() + console_presence.WRAP_UP_GRACE_SECONDS + 1
        assert operator.pk in console_presence.sweep(now=later)
    assert _state(operator) == "offline"
