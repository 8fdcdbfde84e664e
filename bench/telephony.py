"""The router's figures (bench/routing.py); then the incoming-call webhook under concurrent load on
a real ASGI server, against /healthz on the same server in the same run: in a closed loop (32 clients,
each sending its next request when its last is answered), then in an open loop (a fixed arrival rate
of 100 requests per second whatever the answers do, each timed from its scheduled send time, so that
a server falling behind shows as queueing instead of as a client that waits politely).

Runs in its own database (``bench_cc``, shared with bench/tenants.py) on the configured server.
One uvicorn process by default; ``BENCH_WEB_WORKERS=N`` runs N, as production would (one per core).
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 32
OPEN_RATE = 100  # open loop: requests per second, one every 10 ms
OPEN_TIMEOUT = 5.0  # open loop: a request not answered this long after its scheduled time is given up


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare() -> tuple[str, dict[str, str]]:
    """A client company with a number and a queue, no script, and one certified operator busy on a
    call (staffed, never free): each call joins the queue and waits there, the common path."""
    from bench.tenants import _setup_django

    _setup_django()  # the database of bench/tenants.py
    from datetime import timedelta

    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import Role, User
    from telephony.models import OperatorProfile, PhoneNumber, Queue, Skill, WaitingCall
    from telephony.routing_models import OperatorState
    from tenants.clients import client_create, ensure_platform
    from tenants.models import Client

    call_command("migrate_schemas", interactive=False, verbosity=0)
    ensure_platform()
    client = Client.objects.filter(slug="bench-calls").first() or client_create(
        slug="bench-calls", name="Bench Calls", status=Client.Status.ACTIVE
    )
    number, _ = PhoneNumber.objects.get_or_create(
        number="+15550000999", defaults={"tenant": client, "state": PhoneNumber.State.ASSIGNED}
    )
    queue, _ = Queue.objects.get_or_create(
        tenant=client, is_default=True, defaults={"name": "Main", "max_length": 10**6}
    )
    now = timezone.now()
    user, _ = User.objects.get_or_create(username="bench-calls-op", defaults={"role": Role.OPERATOR})
    operator, _ = OperatorProfile.objects.update_or_create(
        user=user, defaults={"state": OperatorState.ON_CALL, "state_since": now, "idle_since": now}
    )
    Skill.objects.update_or_create(
        operator=operator, queue=queue, defaults={"certified_until": now + timedelta(days=365)}
    )
    # Every run starts with an empty queue (the calls of earlier runs never left it).
    WaitingCall.objects.filter(tenant=client).exclude(state="left").update(state="left", outcome="abandoned")
    env = {
        **os.environ,
        "DATABASE_NAME": settings.DATABASES["default"]["NAME"],
        "DJANGO_ENV": "development",
        "DJANGO_DEBUG": "0",
        "LOG_LEVEL": "WARNING",
    }
    return number.number, env


async def _load(url: str, host: str, requests: int, make_body=None) -> dict[str, object]:
    """``requests`` requests from CONCURRENCY clients at once: POSTs of ``make_body()``, else GETs."""
    import aiohttp

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []  # the first answer that was not a 200, to tell why
    counter = iter(range(requests))

    async def worker(session: aiohttp.ClientSession) -> None:
        for _ in counter:
            body, headers = make_body() if make_body else (None, {})
            start = time.perf_counter()
            method = session.post if make_body else session.get
            async with method(url, data=body, headers={"Host": host, **headers}) as response:
                text = await response.text()
                statuses[response.status] = statuses.get(response.status, 0) + 1
                if response.status != 200 and not errors:
                    errors.append(text[:300])
            latencies.append(time.perf_counter() - start)

    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    return {"latencies": latencies, "seconds": elapsed, "statuses": statuses, "errors": errors}


def _summary(rounds: list[dict[str, object]]) -> dict[str, object]:
    """Throughput and latency over the rounds of one kind of request."""
    latencies = sorted(x for r in rounds for x in r["latencies"])
    statuses: dict[int, int] = {}
    for r in rounds:
        for status, count in r["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    errors = [e for r in rounds for e in r["errors"]]
    return {
        "requests": len(latencies),
        "per_second": round(len(latencies) / sum(r["seconds"] for r in rounds), 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "statuses": statuses,
        **({"first_error": errors[0]} if errors else {}),
    }


async def _open_loop(
    url: str, host: str, rate: int, seconds: float, bodies: list[tuple[dict[str, str], dict[str, str]]] | None
) -> dict[str, object]:
    """``rate`` requests per second for ``seconds``, sent on a fixed schedule whatever the answers do.

    Request ``i`` is due at ``start + i / rate``; it is sent then (or at once, if the client is
    late), and its latency runs from that due time, not from its actual send, to its whole answer:
    time spent waiting for the server, or for the client itself to get round to it, counts. POSTs
    of ``bodies`` (``rate * seconds`` of them, one per request, made beforehand), else GETs. A
    request not answered within OPEN_TIMEOUT of its due time is given up and counted at that time,
    so the percentiles are over every scheduled request. Bounded: ``rate * seconds`` requests, over
    by OPEN_TIMEOUT after the last one is due (plus a second's grace for the event loop).
    """
    import aiohttp

    count = round(rate * seconds)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    due = [start + i / rate for i in range(count)]  # from the start: a late wake-up shifts none after
    latency: list[float | None] = [None] * count  # from due time to whole answer, or to giving up
    lags: list[float] = []  # how late the client itself sent each request
    ok_answers: list[float] = []  # when each 2xx answer arrived
    statuses: dict[int, int] = {}
    failures = {"timeouts": 0, "connection_errors": 0}
    errors: list[str] = []  # the first answer that was not a 2xx (or the first failure), to tell why
    in_flight = peak = 0

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        nonlocal in_flight, peak
        lags.append(loop.time() - due[i])
        in_flight += 1
        peak = max(peak, in_flight)
        body, headers = bodies[i] if bodies is not None else (None, {})
        method = session.post if body is not None else session.get
        try:
            async with asyncio.timeout_at(due[i] + OPEN_TIMEOUT):
                async with method(url, data=body, headers={"Host": host, **headers}) as response:
                    text = await response.text()
            statuses[response.status] = statuses.get(response.status, 0) + 1
            if 200 <= response.status < 300:
                ok_answers.append(loop.time())
            elif not errors:
                errors.append(f"{response.status}: {text[:300]}")
        except TimeoutError:
            failures["timeouts"] += 1
        except (aiohttp.ClientError, OSError) as error:
            failures["connection_errors"] += 1
            if not errors:
                errors.append(repr(error)[:300])
        finally:
            in_flight -= 1
            latency[i] = loop.time() - due[i]

    # No cap on connections: a cap would hold requests back in the client, a closed loop again.
    # In flight at most rate * OPEN_TIMEOUT (500), well under the open-files limit.
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks: list[asyncio.Task[None]] = []
        for i in range(count):
            delay = due[i] - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(session, i)))
        last_sent = loop.time()
        # Each request gives itself up at its due time + OPEN_TIMEOUT; the grace is for a stalled loop.
        _, pending = await asyncio.wait(tasks, timeout=OPEN_TIMEOUT + 1)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    given_up = loop.time()
    failures["timeouts"] += len(pending)  # cancelled: not answered in time either
    latencies = sorted(x if x is not None else given_up - due[i] for i, x in enumerate(latency))
    lags.sort()
    not_2xx = count - len(ok_answers)
    return {
        "requests": count,
        "seconds": round(count / rate, 1),
        "sent_per_second": round((count - 1) / (last_sent - start), 1) if count > 1 else None,
        # 2xx answers per second, from the first due time to the last 2xx answer
        "achieved_per_second": round(len(ok_answers) / (max(ok_answers) - start), 1) if ok_answers else 0.0,
        **{f"{name}_ms": _ms(_percentile(latencies, q)) for name, q in _QUANTILES},
        "max_ms": _ms(latencies[-1]) if latencies else None,
        "send_lag_p99_ms": _ms(_percentile(lags, 0.99)),
        "send_lag_max_ms": _ms(lags[-1]) if lags else None,
        "peak_in_flight": peak,
        "statuses": statuses,
        **failures,
        "not_2xx": not_2xx,
        **({"first_error": errors[0]} if errors else {}),
    }


_QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))


def _percentile(ordered: list[float], q: float) -> float | None:
    """The nearest-rank ``q`` quantile of ``ordered`` (sorted), None if empty."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else None


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def _webhooks(quick: bool) -> tuple[dict[str, object], dict[str, object]]:
    from django.conf import settings
    from twilio.request_validator import RequestValidator

    number, env = _prepare()
    port = _free_port()
    host = f"{settings.PLATFORM_HOST}:{port}"
    # A real Celery worker, so /healthz does its whole job and answers 200 (not a logged 503).
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-l", "WARNING",
         "-Q", "call,background"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    workers = os.environ.get("BENCH_WEB_WORKERS", "1")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(port), "--no-access-log",
         "--lifespan", "off", "--log-level", "warning", "--workers", workers],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        for _ in range(300):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
        incoming_url = f"http://{host}/twilio/voice/incoming"

        def incoming_body() -> tuple[dict[str, str], dict[str, str]]:
            params = {
                "CallSid": "CA" + uuid.uuid4().hex,
                "From": "+14155550100",
                "To": number,
                "CallStatus": "ringing",
                "Direction": "inbound",
                "AccountSid": "AC" + "0" * 32,
            }
            return params, {"X-Twilio-Signature": validator.compute_signature(incoming_url, params)}

        requests, rounds = (600, 3) if quick else (3000, 5)
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):  # until the worker has reported in
            if asyncio.run(_load(f"{base}/healthz", host, 1))["statuses"].get(200):
                break
            time.sleep(0.1)
        asyncio.run(_load(f"{base}/healthz", host, 100))  # warm up both paths
        asyncio.run(_load(f"{base}/twilio/voice/incoming", host, 100, incoming_body))
        # In alternating rounds, so that the machine's drift weighs on both alike.
        health_rounds, incoming_rounds = [], []
        for _ in range(rounds):
            health_rounds.append(asyncio.run(_load(f"{base}/healthz", host, requests // rounds)))
            incoming_rounds.append(
                asyncio.run(_load(f"{base}/twilio/voice/incoming", host, requests // rounds, incoming_body))
            )
        health, incoming = _summary(health_rounds), _summary(incoming_rounds)
        # Then the open loop, on the same warm server: /healthz first, as the reference, then the
        # webhook, each for one unbroken period (rounds would let a queue that builds drain between).
        seconds = 5 if quick else 20
        open_loop: dict[str, object] = {
            "rate": OPEN_RATE,
            "timeout_s": OPEN_TIMEOUT,
            "goal_webhook_p99_ms": 50,
        }
        open_loop["healthz"] = asyncio.run(_open_loop(f"{base}/healthz", host, OPEN_RATE, seconds, None))
        bodies = [incoming_body() for _ in range(round(OPEN_RATE * seconds))]  # signed before the clock
        open_loop["webhook"] = asyncio.run(
            _open_loop(f"{base}/twilio/voice/incoming", host, OPEN_RATE, seconds, bodies)
        )
    finally:
        for process in (server, worker):
            process.terminate()
            process.wait(timeout=20)
    closed_loop = {
        "concurrency": CONCURRENCY,
        "web_workers": int(workers),
        "rounds": rounds,
        "healthz": health,
        "incoming": incoming,
        "throughput_ratio": round(incoming["per_second"] / health["per_second"], 3),
        "goal_throughput_ratio": 0.4,
    }
    return closed_loop, open_loop


def run(quick: bool) -> dict[str, object]:
    import json

    # The router's figures come from bench/routing.py, in a process (and database) of its own, and
    # first: after the webhook run, PostgreSQL is still vacuuming and writing out its thousands of
    # new rows, which slowed the router's figures by half.
    routing = subprocess.run(
        [sys.executable, "-m", "bench", "routing", *(["--quick"] if quick else [])],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, object] = {"routing": json.loads(routing.stdout.strip().splitlines()[-1])}
    result["webhooks"], result["open_loop"] = _webhooks(quick)
    return result
