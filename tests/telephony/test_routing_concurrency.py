"""Many processes route a thousand calls at once: no double assignment, nobody idle while a call waits."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
from django.db.models import Count, Q

from telephony.models import OperatorProfile, Reservation, Skill, WaitingCall
from telephony.routing import matching
from tests.conftest import ROOT, child_env
from tests.telephony.helpers import make_operator, make_queue

PROCESSES = 4
CALLS_PER_PROCESS = 250
OPERATORS = 40


@pytest.mark.slow
def test_concurrent_routing_never_double_assigns_and_leaves_nobody_idle(committed, tenants):
    rng = random.Random(7)
    queues = [make_queue(tenants.alpha if i % 2 else tenants.beta, max_length=10_000) for i in range(8)]
    operators = [
        make_operator(
            {q: rng.randint(1, 3) for q in rng.sample(queues, k=rng.randint(1, 3))}, idle=rng.random()
        )
        for _ in range(OPERATORS)
    ]
    queue_arg = ",".join(str(q.pk) for q in queues)
    shares = [operators[i::PROCESSES] for i in range(PROCESSES)]
    workers = []
    for seed, share in enumerate(shares):
        args = [queue_arg, ",".join(str(o.pk) for o in share), str(CALLS_PER_PROCESS), str(seed)]
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.telephony.routing_worker", *args],
                env=child_env(),
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    results = []
    for worker in workers:
        out, _ = worker.communicate(timeout=280)
        assert worker.returncode == 0
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert [r["errors"] for r in results] == [[]] * PROCESSES
    assert sum(r["enqueued"] for r in results) == PROCESSES * CALLS_PER_PROCESS
    assert sum(r["accepted"] for r in results) > 100

    calls = WaitingCall.objects.filter(queue__in=queues)
    assert calls.count() == PROCESSES * CALLS_PER_PROCESS
    # No call was ever answered by two operators, nor offered twice at once (the constraint).
    answered_twice = (
        Reservation.objects.filter(call__in=calls, state__in=["accepted", "completed"])
        .values("call")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not answered_twice.exists()
    # The live state is consistent: a reserved call has one ringing offer, so has its operator.
    profiles = OperatorProfile.objects.filter(pk__in=[o.pk for o in operators])
    live = Reservation.objects.filter(Q(state="offered"), operator__in=profiles)
    assert live.count() == calls.filter(state="reserved").count() == profiles.filter(state="reserved").count()
    assert all(r.call.state == "reserved" for r in live.select_related("call"))
    bridged = calls.filter(state="bridged").values("operator").annotate(n=Count("id"))
    assert not bridged.filter(n__gt=1).exists()

    # At the end, no call waits while an operator eligible for it is available.
    available = []
    for p in profiles.filter(state="available"):
        skills = {s.queue_id: matching.SkillIn(s.tier) for s in Skill.objects.filter(operator=p)}
        available.append(matching.OperatorIn(p.pk, p.idle_since.timestamp(), skills))
    waiting = calls.filter(state="waiting")
    for call in waiting:
        entry = matching.CallIn(call.pk, call.queue_id, call.enqueued_at.timestamp(), call.priority)
        for operator in available:
            assert matching.rank(entry, operator, matching.QueueRule(), 0) is None, (call, operator.id)
    assert waiting.exists() or not available  # the test did put operators under load


def test_a_second_enqueue_of_the_same_call_in_another_tenant_is_refused(db, tenants):
    """A queue belongs to one client company. (Also has pytest-django create the test database.)"""
    from telephony import routing

    with pytest.raises(ValueError, match="another client company"):
        routing.enqueue(tenant=tenants.beta, queue=make_queue(tenants.alpha), call_sid="CA" + "0" * 32)
