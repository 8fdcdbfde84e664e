"""A caller who leaves the line (the wait key, for a callback or voicemail) while an operator takes
the call ends in exactly one outcome (issue 23): connected, or gone to the voicemail, never both
(a caller still in line is first offered a callback keeping their place; here they choose a
message). Two connections race with real PostgreSQL locks."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from telephony import routing
from telephony.calls import flows
from telephony.calls.models import Call, CallEvent
from telephony.models import Queue, Reservation, WaitingCall
from telephony.routing_models import OperatorProfile
from tests.factories import CallFactory
from tests.telephony.helpers import make_operator, make_queue, sid
from tests.twilio_kit import check_twiml, verbs

RACES = 12


def offered_call(tenant) -> tuple[Call, Reservation, OperatorProfile]:
    """A caller in line whose call rings for a free operator."""
    queue: Queue = make_queue(tenant)
    operator = make_operator({queue: 1})
    call_sid = sid()
    with tenant_context(tenant):
        call = CallFactory(call_sid=call_sid, queue_id=queue.pk, queued_at=timezone.now())
    waiting = routing.enqueue(tenant=tenant, queue=queue, call_sid=call_sid)
    return call, Reservation.objects.get(call_id=waiting.pk, state="offered"), operator


def leave_line(tenant, call: Call) -> str:
    """Twilio's answer to the caller's leaving the line, as the webhook runs it (no transaction
    around it: the queue result makes its own)."""
    with tenant_context(tenant):
        answer = flows.queue_result(call=Call.objects.get(pk=call.pk), result="leave", queue_time=30)
        if "Gather" in verbs(str(answer).encode()):  # in line, offered a kept-place callback: a message
            answer = flows.leave_choice(call=Call.objects.get(pk=call.pk), digits="2", speech="")
    return "connected" if "Dial" in verbs(str(answer).encode()) else "left"


def accept(reservation: Reservation, operator: OperatorProfile) -> str:
    try:
        routing.accept(reservation_id=reservation.pk, operator=operator.user)
    except ValueError:
        return "refused"
    return "accepted"


def settled(tenant, call: Call, operator: OperatorProfile) -> tuple[str, str, str, bool]:
    waiting = WaitingCall.objects.get(call_sid=call.call_sid)
    operator.refresh_from_db()
    with tenant_context(tenant):
        joined = CallEvent.objects.filter(call_id=call.pk, kind="conference").exists()
    return waiting.state, operator.state, waiting.outcome, joined


def test_an_operator_who_took_the_call_first_gets_the_caller_not_the_voicemail(db, tenants):
    call, reservation, operator = offered_call(tenants.alpha)
    assert accept(reservation, operator) == "accepted"
    with tenant_context(tenants.alpha):
        answer = flows.queue_result(call=Call.objects.get(pk=call.pk), result="leave", queue_time=30)
    conference = check_twiml(str(answer).encode()).find("Dial/Conference")
    assert conference is not None and conference.text == f"call-{call.call_sid}"
    assert settled(tenants.alpha, call, operator) == ("bridged", "on_call", "", True)


def test_a_caller_who_left_first_is_not_connected_to_the_operator_who_answers_late(db, tenants):
    call, reservation, operator = offered_call(tenants.alpha)
    assert leave_line(tenants.alpha, call) == "left"
    assert accept(reservation, operator) == "refused"
    assert settled(tenants.alpha, call, operator) == ("left", "available", "left", False)


def race(tenant, call: Call, reservation: Reservation, operator: OperatorProfile) -> dict[str, str]:
    """The caller leaves and the operator accepts at once, each on its own connection."""
    start = threading.Barrier(2)
    results: dict[str, str] = {}

    def run(name, action):
        try:
            start.wait()
            results[name] = action()
        except Exception as exc:
            results[name] = repr(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=("caller", lambda: leave_line(tenant, call))),
        threading.Thread(target=run, args=("operator", lambda: accept(reservation, operator))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.mark.slow
def test_leaving_and_accepting_at_the_same_moment_end_in_exactly_one_outcome(committed, tenants):
    seen = []
    for _ in range(RACES):
        call, reservation, operator = offered_call(tenants.alpha)
        results = race(tenants.alpha, call, reservation, operator)
        state = settled(tenants.alpha, call, operator)
        if results == {"caller": "connected", "operator": "accepted"}:
            assert state == ("bridged", "on_call", "", True)
        else:
            assert results == {"caller": "left", "operator": "refused"}, results
            assert state == ("left", "available", "left", False)
        seen.append(results["caller"])
    assert len(seen) == RACES


def test_an_operator_who_takes_the_call_while_the_caller_chooses_gets_them_not_the_voicemail(db, tenants):
    """The wait key keeps the place until the caller chooses (callback or message); an operator who
    accepts meanwhile is connected and the caller joins them. Before: the caller got the voicemail
    while the operator was put on the call."""
    call, reservation, operator = offered_call(tenants.alpha)
    with tenant_context(tenants.alpha):
        options = flows.queue_result(call=Call.objects.get(pk=call.pk), result="leave", queue_time=30)
    assert "Gather" in verbs(str(options).encode())
    assert accept(reservation, operator) == "accepted"
    with tenant_context(tenants.alpha):
        answer = flows.leave_choice(call=Call.objects.get(pk=call.pk), digits="2", speech="")
    conference = check_twiml(str(answer).encode()).find("Dial/Conference")
    assert conference is not None and conference.text == f"call-{call.call_sid}"
    assert settled(tenants.alpha, call, operator) == ("bridged", "on_call", "", True)
