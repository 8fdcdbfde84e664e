"""Whole calls, end to end: the simulator plays Twilio and the operators against the real stack."""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
import sys
from collections.abc import Iterator

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from telephony.calls.models import Call
from telephony.models import OperatorProfile, PhoneNumber, Queue, WaitingCall
from telephony.simulator.operators import Behaviour
from telephony.simulator.run import Plan, simulate
from telephony.simulator.setup import simulated_operators
from telephony.simulator.twilio_side import Profile
from tenants.clients import client_create
from tenants.models import Client
from tests.conftest import ROOT, child_env, ports, run_async

pytestmark = pytest.mark.slow


def _fresh_company() -> tuple[Client, str]:
    """A client company of its own, with a number and a queue: no other test's operators serve it."""
    slug = f"sim-{random.randrange(10**8)}"
    company = client_create(slug=slug, name=f"Simulated {slug}", status=Client.Status.ACTIVE)
    number = f"+1555{random.randrange(10**6, 10**7)}"
    PhoneNumber.objects.create(number=number, tenant=company, state=PhoneNumber.State.ASSIGNED)
    Queue.objects.create(tenant=company, is_default=True, name="Main")
    return company, number


def _plan(numbers: list[str], operators: list[tuple[str, str]], **overrides) -> Plan:
    settings_ = {
        "profile": Profile(talk=(0.3, 1.0), patience=(60.0, 90.0), wait_turn=0.3, press_key=0.0),
        "behaviour": Behaviour(answer_delay=(0.05, 0.2), wrap_up=(0.1, 0.3)),
        **overrides,
    }
    return Plan(
        base_url=f"http://{settings.PLATFORM_HOST}:{ports().web}",
        connect=f"127.0.0.1:{ports().web}",
        auth_token=settings.TWILIO_AUTH_TOKEN,
        numbers=numbers,
        operators=operators,
        rest_port=ports().twilio_rest,
        **settings_,
    )


def test_simulated_calls_are_answered_by_operators_and_recorded_once(
    committed, tenants, asgi_server, celery_worker
):
    company, number = _fresh_company()
    operators = simulated_operators(count=2, slugs=[company.slug], prefix=f"{company.slug}-op")

    result = run_async(simulate(_plan([number], operators, calls=6, rate=3.0, seed=11)))

    assert result["errors"] == [] and result["callback_errors"] == []
    assert result["outcomes"] == {"handled": 6}, (result["operators"], result["trace"])
    assert result["answer"]["count"] == 6  # accept → the operator's leg joined the conference
    print("accept → operator joined (s):", result["answer"])
    with tenant_context(company):
        calls = Call.objects.filter(to_number=number)
        assert calls.count() == 6
        for call in calls:
            assert call.outcome == Call.Outcome.HANDLED
            assert call.answered_at and call.operator_name and call.wait_seconds is not None
            assert call.events.filter(kind="bridged").count() == 1
            assert call.events.filter(kind="outcome").count() == 1
        sids = list(calls.values_list("call_sid", flat=True))
    waiting = WaitingCall.objects.filter(call_sid__in=sids)
    assert set(waiting.values_list("state", flat=True)) == {WaitingCall.State.LEFT}
    assert sum(op["accepted"] for op in result["operators"]) == 6


def test_the_webhooks_a_caller_waits_on_are_served_by_the_voice_process(
    committed, tenants, asgi_server, voice_server, celery_worker
):
    """``manage.py run --voice-port``: the incoming call (its offer made there) and every webhook a
    caller waits on go to the voice process, the callbacks and the consoles to the web; the offer
    reaches the console on the other process, and the calls end as with one process."""
    company, number = _fresh_company()
    operators = simulated_operators(count=2, slugs=[company.slug], prefix=f"{company.slug}-op")
    voice = f"127.0.0.1:{voice_server.port}"
    plan = _plan([number], operators, calls=6, rate=3.0, seed=12, voice_connect=voice)

    result = run_async(simulate(plan))

    assert result["errors"] == [] and result["callback_errors"] == []
    assert result["outcomes"] == {"handled": 6}, (result["operators"], result["trace"])
    assert sum(op["accepted"] for op in result["operators"]) == 6  # each offer reached its console
    sent = result["webhooks_by_server"]
    # The first webhook of each call at least; its status and conference callbacks to the web.
    assert sent[f"http://{voice}"] >= 6
    assert sent[f"http://127.0.0.1:{asgi_server.port}"] >= 6 * 2
    with tenant_context(company):
        for call in Call.objects.filter(to_number=number):
            assert call.outcome == Call.Outcome.HANDLED and call.answered_at is not None
            assert call.events.filter(kind="bridged").count() == 1


def test_with_voice_and_hooks_processes_the_web_serves_no_webhook_but_the_fallback(
    committed, tenants, asgi_server, voice_server, hooks_server, celery_worker
):
    """``manage.py run --voice-port --hooks-port``: the caller's webhooks on the voice process, every
    callback (status, the conference's and the legs' events, recordings) on the hooks process, and
    the web left with the consoles; the calls end as with one process, each recorded once."""
    company, number = _fresh_company()
    operators = simulated_operators(count=2, slugs=[company.slug], prefix=f"{company.slug}-op")
    voice, hooks = f"127.0.0.1:{voice_server.port}", f"127.0.0.1:{hooks_server.port}"
    plan = _plan([number], operators, calls=6, rate=3.0, seed=13, voice_connect=voice, hooks_connect=hooks)

    result = run_async(simulate(plan))

    assert result["errors"] == [] and result["callback_errors"] == []
    assert result["outcomes"] == {"handled": 6}, (result["operators"], result["trace"])
    assert sum(op["accepted"] for op in result["operators"]) == 6
    sent = result["webhooks_by_server"]
    assert sent[f"http://{voice}"] >= 6  # each call's first webhook at least
    assert sent[f"http://{hooks}"] >= 6 * 2  # each call's status and its conference's events
    assert f"http://127.0.0.1:{asgi_server.port}" not in sent  # no fallback was needed
    with tenant_context(company):
        for call in Call.objects.filter(to_number=number):
            assert call.outcome == Call.Outcome.HANDLED and call.answered_at is not None
            assert call.duration_seconds is not None  # the final status, served by the hooks process
            assert call.events.filter(kind="bridged").count() == 1
            assert call.events.filter(kind="outcome").count() == 1


@contextlib.contextmanager
def _running(name: str, *command: str) -> Iterator[subprocess.Popen]:
    """A Celery process for one test, always stopped (warm first, killed if it lingers)."""
    command = [sys.executable, "-m", "celery", "-A", "config", *command, "-l", "WARNING"]
    if command[5] == "worker":
        command += ["-Q", "call,background"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    process = subprocess.Popen(command, env=child_env(), cwd=ROOT, **quiet)
    try:
        yield process
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_soak_with_faults_every_call_ends_in_exactly_one_outcome(
    committed, tenants, asgi_server, celery_worker, tmp_path
):
    """Duplicate and late webhooks, operators who miss offers or drop their console, a worker restart;
    Twilio's faults: operator legs not answering, busy or failing, REST 429/500/dropped connections,
    conference callbacks late or twice."""
    company, number = _fresh_company()
    Queue.objects.filter(tenant=company).update(ring_timeout=2, max_wait=40)
    operators = simulated_operators(count=3, slugs=[company.slug], prefix=f"{company.slug}-op")
    plan = _plan(
        [number], operators, calls=24, rate=2.0, seed=5,
        profile=Profile(talk=(0.3, 1.5), patience=(25.0, 45.0), wait_turn=0.3, press_key=0.05,
                        duplicate=0.3, late_status=0.3, leg_no_answer=0.1, leg_busy=0.05, leg_failed=0.05,
                        reorder=0.2, rest_faults={"429": 0.05, "500": 0.05, "timeout": 0.02}),
        behaviour=Behaviour(answer_delay=(0.05, 0.3), wrap_up=(0.1, 0.3), miss=0.15, logout=0.1),
    )  # fmt: skip

    async def with_a_worker_restart(worker: subprocess.Popen) -> dict:
        simulation = asyncio.create_task(simulate(plan))
        await asyncio.sleep(6)
        await asyncio.to_thread(_stop, worker)  # a warm shutdown: unacknowledged tasks go back
        with _running("replacement", "worker", "--pool", "solo", "-n", f"soak2-{company.slug}@%h"):
            return await simulation

    with (
        _running("beat", "beat", "-s", str(tmp_path / "beat")),
        _running("worker", "worker", "--pool", "solo", "-n", f"soak-{company.slug}@%h") as worker,
    ):
        result = run_async(with_a_worker_restart(worker))
    placed = {t["sid"] for t in result["trace"]}
    assert result["errors"] == [], result["trace"]
    assert len(placed) == 24
    with tenant_context(company):
        calls = {c.call_sid: c for c in Call.objects.filter(to_number=number)}
        assert set(calls) == placed  # none lost, none invented
        for call in calls.values():
            assert call.outcome, (call.call_sid, list(call.events.values_list("kind", flat=True)))
            assert call.events.filter(kind="outcome").count() == 1
        outcomes = {c.outcome for c in calls.values()}
    assert outcomes <= {"handled", "abandoned", "callback_requested", "voicemail"}
    assert Call.Outcome.HANDLED in outcomes
    assert not WaitingCall.objects.filter(call_sid__in=placed).exclude(state=WaitingCall.State.LEFT).exists()
    on_call = OperatorProfile.objects.filter(user__username__startswith=f"{company.slug}-op", state="on_call")
    last = [p.events.order_by("-at", "-pk").values_list("kind", "call_sid").first() for p in on_call]
    # Nobody on an inbound call with nobody (an outbound preview of a callback booked during the run
    # may still wait for its operator: the dialer's, not the bridge's; a callback that kept its
    # caller's place may be calling them back: its try is not one of the calls placed here).
    assert [event for event in last if event[0] != "outbound" and event[1] in placed] == []
    with tenant_context(tenants.beta):
        assert not Call.objects.filter(call_sid__in=placed).exists()
