"""Offer latency: from a call entering the queue to the offer arriving in the operator's console
socket, with many operators connected to a real ASGI server (goal: p99 ≤ 100 ms).

Runs in its own database (``bench_cc``, shared with the other benches) on the configured server.
Each round enqueues one call in this process (the router matches it and pushes on commit); the
clock stops when any console receives its offer; then the call leaves and the operator is free.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import uuid

from bench.telephony import ROOT, _free_port, _prepare

WARM_UP = 5


def _operators(count: int) -> tuple[object, object, list[tuple[str, str]]]:
    from telephony.models import OperatorProfile, Queue
    from telephony.simulator.setup import simulated_operators
    from tenants.models import Client

    client = Client.objects.get(slug="bench-calls")
    queue = Queue.objects.get(tenant=client, is_default=True)
    skilled = OperatorProfile.objects.filter(skills__queue=queue)
    others = skilled.exclude(user__username__startswith="bench-console")
    others.update(state="offline", break_reason="")  # operators without a socket would take offers
    from telephony import routing
    from telephony.models import WaitingCall

    left_over = WaitingCall.objects.filter(queue=queue).exclude(state="left")
    for sid in left_over.values_list("call_sid", flat=True):
        routing.leave(call_sid=sid, outcome="bench reset")  # calls an earlier run left waiting
    return client, queue, simulated_operators(count=count, slugs=["bench-calls"], prefix="bench-console-op")


async def _measure(
    port: int, host: str, operators, client, queue, rounds: int
) -> tuple[list[float], list[str]]:
    from asgiref.sync import sync_to_async
    from websockets.asyncio.client import connect

    from telephony import routing

    offers: asyncio.Queue[tuple[str, float]] = asyncio.Queue()

    async def console(session: str, ready: asyncio.Event) -> None:
        headers = {"Cookie": f"sessionid={session}", "Origin": f"http://{host}"}
        async with connect(f"ws://{host}/ws/operator/", additional_headers=headers, host="127.0.0.1",
                           port=port, open_timeout=30) as ws:  # fmt: skip
            await ws.send(json.dumps({"type": "set_state", "state": "available"}))
            ready.set()
            async for raw in ws:
                message = json.loads(raw)
                if message.get("type") == "offer":
                    offers.put_nowait((message["call_sid"], time.perf_counter()))

    readies = [asyncio.Event() for _ in operators]
    tasks = [asyncio.create_task(console(s, r)) for (_, s), r in zip(operators, readies, strict=True)]
    await asyncio.gather(*(r.wait() for r in readies))
    await asyncio.sleep(1.0)  # every operator's set_state has landed

    def enqueue(sid: str) -> None:
        routing.enqueue(tenant=client, queue=queue, call_sid=sid)

    def leave(sid: str) -> None:
        routing.leave(call_sid=sid, outcome="bench")

    latencies: list[float] = []
    lost: list[str] = []
    why: list[str] = []
    for _ in range(rounds + WARM_UP):
        sid = "CA" + uuid.uuid4().hex
        start = time.perf_counter()
        await sync_to_async(enqueue)(sid)
        try:
            while True:  # an offer of another call (left from an earlier run) is not this one's
                offered, arrived = await asyncio.wait_for(offers.get(), 10)
                if offered == sid:
                    break
            latencies.append(arrived - start)
        except TimeoutError:
            lost.append(sid)  # no console got it within 10 s: reported, not hidden
            why.append(await sync_to_async(_why_lost)(sid))
        await sync_to_async(leave)(sid)
        await asyncio.sleep(0.02)
    del latencies[:WARM_UP]  # the first offers open this process's channel layer connections
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return latencies, why


def _why_lost(sid: str) -> str:
    """What the router did with a call whose offer no console received: for the report."""
    from telephony.models import Reservation, WaitingCall

    call = WaitingCall.objects.filter(call_sid=sid).first()
    if call is None:
        return "no waiting call"
    offers = list(Reservation.objects.filter(call=call).values_list("state", "operator__state"))
    return f"call {call.state}; offers (state, operator state): {offers or 'none'}"


def run(quick: bool) -> dict[str, object]:
    from django.conf import settings

    _, env = _prepare()
    count = 200
    client, queue, operators = _operators(count)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(port), "--no-access-log",
         "--lifespan", "off", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        for _ in range(300):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        host = f"{settings.PLATFORM_HOST}:{port}"
        rounds = 100 if quick else 1000
        latencies, lost = asyncio.run(_measure(port, host, operators, client, queue, rounds))
        latencies.sort()
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)  # the consoles' goodbyes (each sets its operator offline)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    def pct(p: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 2)

    return {
        "operators": count,
        "rounds": len(latencies),
        "offers_lost": len(lost),
        "offers_lost_why": lost[:5],
        "offer_p50_ms": pct(0.50),
        "offer_p99_ms": pct(0.99),
        "offer_max_ms": round(1000 * latencies[-1], 2),
        "goal_offer_p99_ms": 100,
    }
