"""A simulation: operators on their consoles, callers arriving at a rate, outcomes and KPIs at the end."""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from telephony.simulator.operators import Behaviour, SimulatedOperator
from telephony.simulator.outbound_side import Callee
from telephony.simulator.supervisors import SimulatedSupervisor
from telephony.simulator.twilio_side import CallRecord, Profile, Twilio
from telephony.urls import callback_paths, caller_wait_paths

LOGIN_WAIT = 15.0  # seconds the consoles may take to log in before the first call
SETTLE_WAIT = 30.0


@dataclass
class Plan:
    base_url: str  # the platform as Twilio reaches it, e.g. http://localhost:8000
    connect: str  # where the server listens, e.g. 127.0.0.1:8000
    auth_token: str
    numbers: list[str]  # the client companies' numbers to call
    operators: list[tuple[str, str]]  # (username, session key)
    calls: int = 20
    rate: float = 1.0  # calls per second (Poisson arrivals)
    seed: int = 7
    profile: Profile | None = None
    behaviour: Behaviour | None = None
    service_level_seconds: float = 20.0
    forever: bool = False
    rest_port: int = 0  # where the platform's TWILIO_API_BASE_URL points (0: any free port)
    callee: Callee | None = None  # the people the platform dials (outbound)
    # After the calls, keep serving Twilio's REST API (recordings' media…) until this holds (asked
    # in a thread, it may query the database), for up to SETTLE_WAIT seconds.
    settled: Callable[[], bool] | None = None
    supervisors: list[tuple[str, str]] = field(default_factory=list)  # (username, session key): R21
    supervisor_dwell: tuple[float, float] = (0.3, 0.8)  # seconds in each mode (listen, whisper, barge)
    # Where the voice processes listen (host:port), when the platform runs them: the webhooks a
    # caller waits on go there, as the proxy in front of it routes them (docs/scale.md §4) ...
    voice_connect: str = ""
    # ... and where the hooks processes listen: Twilio's callbacks nobody waits on go there; the
    # rest (the consoles, the fallback) to ``connect``.
    hooks_connect: str = ""

    def routes(self) -> dict[str, str]:
        """The simulated Twilio's routes (``Twilio.routes``) for ``voice_connect`` and ``hooks_connect``."""
        voice = dict.fromkeys(caller_wait_paths(), self.voice_connect) if self.voice_connect else {}
        return voice | (dict.fromkeys(callback_paths(), self.hooks_connect) if self.hooks_connect else {})


def kpis(records: list[CallRecord], threshold: float) -> dict[str, object]:
    """What the caller experienced, by outcome, with service level and ASA over offered calls."""
    outcomes: dict[str, int] = {}
    for record in records:
        outcomes[record.result or "unfinished"] = outcomes.get(record.result or "unfinished", 0) + 1
    offered = [r for r in records if r.enqueued_at is not None]
    answered = [r for r in offered if r.bridged_at is not None]
    waits = [r.bridged_at - r.enqueued_at for r in answered]
    within = sum(1 for w in waits if w <= threshold)
    return {
        "calls": len(records),
        "outcomes": dict(sorted(outcomes.items())),
        "offered": len(offered),
        "answered": len(answered),
        "abandoned": sum(1 for r in offered if r.result == "abandoned"),
        "service_level": round(within / len(offered), 3) if offered else None,
        "asa_seconds": round(statistics.mean(waits), 2) if waits else None,
        "errors": [step for r in records for step in r.steps if step.startswith("error")][:5],
    }


def answer_times(accepted: dict[str, float], joined: dict[str, float]) -> dict[str, object]:
    """Accept → the operator's leg joined the conference (the new "answer" time), in seconds.

    A call accepted more than once (a leg that did not join) counts from its last accept."""
    times = sorted(joined[sid] - at for sid, at in accepted.items() if sid in joined and joined[sid] >= at)
    if not times:
        return {"count": 0}
    return {
        "count": len(times),
        "p50": round(statistics.median(times), 3),
        "p95": round(times[min(len(times) - 1, int(len(times) * 0.95))], 3),
        "max": round(times[-1], 3),
    }


def operators_of(
    plan: Plan, rng: random.Random, behaviour: Behaviour, kind: type[SimulatedOperator] = SimulatedOperator
) -> list[SimulatedOperator]:
    """The plan's operators (of ``kind``), each with its own random stream drawn from ``rng``."""
    return [
        kind(
            username=name,
            session=key,
            base_url=plan.base_url,
            connect_to=plan.connect,
            rng=random.Random(rng.random()),
            behaviour=behaviour,
        )
        for name, key in plan.operators
    ]


async def simulate(plan: Plan) -> dict[str, object]:
    rng = random.Random(plan.seed)
    profile, behaviour = plan.profile or Profile(), plan.behaviour or Behaviour()
    stop = asyncio.Event()
    async with Twilio(base_url=plan.base_url, connect=plan.connect, auth_token=plan.auth_token, rng=rng,
                      profile=profile, rest_port=plan.rest_port, callee=plan.callee,
                      routes=plan.routes()) as twilio:  # fmt: skip
        operators = operators_of(plan, rng, behaviour)
        consoles = [asyncio.create_task(op.run(stop)) for op in operators]
        supervisors = [
            SimulatedSupervisor(username=name, session=key, base_url=plan.base_url, connect_to=plan.connect,
                                rng=random.Random(rng.random()), dwell=plan.supervisor_dwell)
            for name, key in plan.supervisors
        ]  # fmt: skip
        consoles += [asyncio.create_task(sup.run(stop)) for sup in supervisors]
        # Calls only once the consoles are logged in (a queue nobody staffs offers a callback at once)
        # and the supervisors watch their wallboard (the calls on it before are not theirs to try).
        ready = [op.online.wait() for op in operators] + [sup.watching.wait() for sup in supervisors]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*ready), LOGIN_WAIT)
        calls: list[asyncio.Task] = []
        started = time.monotonic()
        placed = 0
        while plan.forever or placed < plan.calls:
            sid = "CA" + uuid.uuid4().hex  # unique across runs: a replayed CallSid is the same call
            caller = f"+1415555{rng.randrange(0, 10_000):04d}"
            calls.append(
                asyncio.create_task(twilio.place_call(sid=sid, to=rng.choice(plan.numbers), caller=caller))
            )
            placed += 1
            await asyncio.sleep(rng.expovariate(plan.rate))
        await asyncio.gather(*calls)
        deadline = time.monotonic() + SETTLE_WAIT
        while plan.settled and not await asyncio.to_thread(plan.settled) and time.monotonic() < deadline:
            await asyncio.sleep(0.3)
        stop.set()
        await asyncio.gather(*consoles, return_exceptions=True)
        accepted = {sid: at for op in operators for sid, at in op.stats.accepted_at.items()}
        return {
            **kpis(twilio.records, plan.service_level_seconds),
            "answer": answer_times(accepted, twilio.conferences.joined_at),
            "rest_faults": dict(twilio.conferences.faults),
            "recording_updates": dict(twilio.conferences.pauses),
            "callback_errors": twilio.callback_errors[:5],
            "seconds": round(time.monotonic() - started, 1),
            "operators": [vars(op.stats) | {"calls": len(op.stats.calls)} for op in operators],
            "supervisors": [vars(sup.stats) for sup in supervisors],
            "announced": sum(len(texts) for texts in twilio.conferences.announced.values()),
            # Operators who joined after their caller had left (a new, empty conference of the name).
            "reopened_conferences": twilio.conferences.reopened,
            "rest_url": twilio.rest_url,
            "webhooks_by_server": dict(twilio.sent_to),
            "trace": [{"sid": r.sid, "result": r.result, "steps": r.steps} for r in twilio.records[:50]],
        }


async def simulate_outbound(
    plan: Plan, *, done: Callable[[], bool], timeout: float = 60.0
) -> dict[str, object]:
    """Operators on their consoles while the platform dials (campaigns, callbacks), until ``done()``.

    ``done`` is called in a thread (it may query the database) every half second.
    """
    rng = random.Random(plan.seed)
    behaviour = plan.behaviour or Behaviour()
    stop = asyncio.Event()
    async with Twilio(base_url=plan.base_url, connect=plan.connect, auth_token=plan.auth_token, rng=rng,
                      profile=plan.profile or Profile(), rest_port=plan.rest_port,
                      callee=plan.callee, routes=plan.routes()) as twilio:  # fmt: skip
        operators = operators_of(plan, rng, behaviour)
        consoles = [asyncio.create_task(op.run(stop)) for op in operators]
        started = time.monotonic()
        finished = False
        while time.monotonic() - started < timeout:
            if await asyncio.to_thread(done):
                finished = True
                break
            await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*consoles, return_exceptions=True)
        records = twilio.outbound.records
        return {
            "finished": finished,
            "seconds": round(time.monotonic() - started, 1),
            "operators": [vars(op.stats) | {"calls": len(op.stats.calls)} for op in operators],
            "outbound": [
                {"to": r.to, "result": r.result, "answered_by": r.answered_by, "steps": r.steps}
                for r in records
            ],
            "errors": [step for r in records for step in r.steps if step.startswith("error")][:5]
            + [e for op in operators for e in op.stats.errors][:5],
        }
