"""A callback that keeps the caller's place, played whole by the simulator against the real stack
(web server, Celery worker, sockets): callers press star, keep their place and hang up; the
operator gets each callback at its turn, the platform dials the person back, who does not answer
the first try and answers the next; the callbacks are served in the callers' order."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from telephony import routing
from telephony.calls.models import Call, Callback, CallEvent
from telephony.models import Queue, WaitingCall
from telephony.routing import callbacks as kept
from telephony.simulator.operators import Behaviour
from telephony.simulator.outbound_side import Callee
from telephony.simulator.run import simulate
from telephony.simulator.setup import simulated_operators
from telephony.simulator.twilio_side import Profile
from tests.conftest import run_async
from tests.e2e.test_simulated_calls import _fresh_company, _plan

pytestmark = pytest.mark.slow


def test_callers_who_keep_their_place_are_called_back_in_their_order_even_after_a_missed_try(
    committed, tenants, asgi_server, celery_worker
):
    company, number = _fresh_company()
    Queue.objects.filter(tenant=company).update(overflow_after=0)  # every tier at once: no timer to wait
    queue = Queue.objects.get(tenant=company)
    operators = simulated_operators(count=1, slugs=[company.slug], prefix=f"{company.slug}-op")

    def settled() -> bool:
        """The retry rule's wait (minutes) made now, as beat's tick would once it is due."""
        WaitingCall.objects.filter(tenant=company, state="deferred").update(due_at=timezone.now())
        if kept.wake_due():
            routing.match(queue_ids=[queue.pk])
        with tenant_context(company):
            callbacks = Callback.objects.filter(keeps_place=True)
            return callbacks.count() == 2 and not callbacks.exclude(state=Callback.State.DONE).exists()

    # The first caller finds the operator free and waits for them in the call's conference (no wait
    # key there: ``flows.to_queue``); the two after it wait in line, press star and keep their place.
    plan = _plan(
        [number], operators, calls=3, rate=3.0, seed=13, settled=settled,
        profile=Profile(talk=(0.3, 0.8), patience=(60.0, 90.0), wait_turn=0.3, press_key=1.0,
                        want_callback=1.0),
        behaviour=Behaviour(answer_delay=(1.0, 1.2), wrap_up=(0.1, 0.3)),
        callee=Callee(miss_first=1.0),
    )  # fmt: skip
    result = run_async(simulate(plan))
    assert result["errors"] == [] and result["callback_errors"] == [], result["trace"]
    assert result["outcomes"] == {"callback_kept": 2, "handled": 1}, result["trace"]
    with tenant_context(company):
        callers = list(Call.objects.filter(to_number=number, callback__isnull=False).order_by("queued_at"))
        assert [c.outcome for c in callers] == [Call.Outcome.CALLBACK_REQUESTED] * 2
        served = []
        for caller in callers:
            callback = Callback.objects.get(call=caller)
            assert (callback.state, callback.attempts, callback.phone) == ("done", 2, caller.from_number)
            tries = Call.objects.filter(
                pk__in=CallEvent.objects.filter(kind="callback_dial", data__callback=callback.pk).values(
                    "call"
                )
            ).order_by("pk")
            assert [t.outcome for t in tries] == [Call.Outcome.FAILED, Call.Outcome.HANDLED]
            answered = tries.last()
            assert answered.answered_at and answered.events.filter(kind="bridged").count() == 1
            assert caller.events.filter(kind="callback_done").count() == 1
            served.append(answered.answered_at)
    assert served == sorted(served)  # in the callers' order: each keeps its place
    assert not WaitingCall.objects.filter(tenant=company).exclude(state="left").exists()
