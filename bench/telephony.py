"""The router's figures (bench/routing.py); then the incoming-call webhook under concurrent load on
a real ASGI server, against /healthz on the same server in the same run.

Runs in its own database (``bench_cc``, shared with bench/tenants.py) on the configured server.
One uvicorn process by default; ``BENCH_WEB_WORKERS=N`` runs N, as production would (one per core).
"""

from __future__ import annotations

import asyncio
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare() -> tuple[str, dict[str, str]]:
    """A client company with a number and a queue, no script: each call goes to the queue."""
    from bench.tenants import _setup_django

    _setup_django()  # the database of bench/tenants.py
    from django.conf import settings
    from django.core.management import call_command

    from telephony.models import PhoneNumber, Queue, WaitingCall
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
    Queue.objects.get_or_create(
        tenant=client, is_default=True, defaults={"name": "Main", "max_length": 10**6}
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


def _webhooks(quick: bool) -> dict[str, object]:
    from django.conf import settings
    from twilio.request_validator import RequestValidator

    number, env = _prepare()
    port = _free_port()
    host = f"{settings.PLATFORM_HOST}:{port}"
    # A real Celery worker, so /healthz does its whole job and answers 200 (not a logged 503).
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-l", "WARNING"],
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
    finally:
        for process in (server, worker):
            process.terminate()
            process.wait(timeout=20)
    return {
        "concurrency": CONCURRENCY,
        "web_workers": int(workers),
        "rounds": rounds,
        "healthz": health,
        "incoming": incoming,
        "throughput_ratio": round(incoming["per_second"] / health["per_second"], 3),
        "goal_incoming_p99_ms": 50,
        "goal_throughput_ratio": 0.5,
    }


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
    result["webhooks"] = _webhooks(quick)
    return result
