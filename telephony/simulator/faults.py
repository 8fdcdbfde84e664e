"""The simulator plays our own faults (issue 22): status callbacks lost or late, consoles that
reconnect like the real page whatever refused them, and a run of calls with both.

- ``FaultyTwilio``: Twilio whose final status callback is lost (``Faults.lost_status``) or late
  (``Profile.late_status``: sent after a pause, and the earlier ``ringing`` status after it, as
  Twilio does not order callbacks), inbound and outbound calls alike (any ``/status`` URL; an
  outbound call's final one is sent by ``outbound_side``). A webhook the platform could not answer
  (its web process down) ends the call, as Twilio does (error 11200), and the final status posted
  to the same platform is refused too, so the call is left unfinished on the platform's side: only
  the reconciliation (which asks this simulator's REST API, ``rest_status``) can finish it.
- ``ReconnectingOperator``: the console page retries forever with a growing pause (up to 5 s), on
  a refused handshake too (the server restarting answers 502/503 or closes the socket).
- ``simulate_with_faults``: ``run.simulate`` with these two.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from telephony.simulator.operators import Behaviour, SimulatedOperator
from telephony.simulator.run import LOGIN_WAIT, Plan, kpis, operators_of
from telephony.simulator.twilio_side import Profile, Twilio

FINAL = ("completed", "busy", "no-answer", "canceled", "failed")


@dataclass
class Faults:
    lost_status: float = 0.0  # chance a final status callback is never delivered
    late_seconds: tuple[float, float] = (1.0, 4.0)  # how late a late one is
    lost: list[str] = field(default_factory=list)  # CallSids whose final status was lost
    late: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # webhooks the platform could not answer


class FaultyTwilio(Twilio):
    def __init__(self, *, faults: Faults, **kwargs) -> None:
        super().__init__(**kwargs)
        self.faults = faults
        self.pending: set[asyncio.Task] = set()

    async def post(self, url: str, params: dict[str, str]) -> str:
        final = "/status" in url and params.get("CallStatus") in FINAL
        if final and self.rng.random() < self.faults.lost_status:
            self.faults.lost.append(params.get("CallSid", ""))
            return ""
        if final and self.rng.random() < self.profile.late_status:
            self.faults.late.append(params.get("CallSid", ""))
            task = asyncio.get_running_loop().create_task(self._late(url, params))
            self.pending.add(task)
            task.add_done_callback(self.pending.discard)
            return ""
        try:
            return await super().post(url, params)
        except (TimeoutError, OSError, RuntimeError) as exc:
            if "/status" in url:  # the platform is down: Twilio does not retry a status callback
                self.faults.refused.append(params.get("CallSid", ""))
                return ""
            raise exc

    async def _late(self, url: str, params: dict[str, str]) -> None:
        await asyncio.sleep(self.rng.uniform(*self.faults.late_seconds))
        for fields in (params, {**params, "CallStatus": "ringing"}):  # the earlier status after the last
            try:
                await Twilio.post(self, url, fields)
            except (TimeoutError, OSError, RuntimeError):
                self.faults.refused.append(params.get("CallSid", ""))
                return

    async def drain(self) -> None:
        await asyncio.gather(*list(self.pending), return_exceptions=True)


class ReconnectingOperator(SimulatedOperator):
    """A console that never gives up, as the page: any failure, a pause (0.5 … 5 s), again."""

    async def _run(self, stop: asyncio.Event) -> None:
        pause = 0.5
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self._console(stop)
            except Exception as exc:  # refused handshake, dropped socket, server gone: retry
                self.stats.errors.append(f"console reconnects after {type(exc).__name__}")
            if time.monotonic() - started > 10:
                pause = 0.5
            await asyncio.sleep(pause)
            pause = min(5.0, pause * 2)


async def simulate_with_faults(
    plan: Plan,
    faults: Faults,
    *,
    until: float | None = None,
    settle: Callable[[list], Awaitable[object]] | None = None,
) -> dict[str, object]:
    """``run.simulate`` with a faulty Twilio and reconnecting consoles; records kept for the soak.

    ``until``: a monotonic deadline after which no call is placed (the soak's bound); ``settle``:
    awaited with the calls' records once they are over, while this Twilio's REST API still
    answers (the reconciliation asks it)."""
    rng = random.Random(plan.seed)
    profile, behaviour = plan.profile or Profile(), plan.behaviour or Behaviour()
    stop = asyncio.Event()
    twilio_args = {
        "base_url": plan.base_url, "connect": plan.connect, "auth_token": plan.auth_token, "rng": rng,
        "profile": profile, "rest_port": plan.rest_port, "callee": plan.callee, "routes": plan.routes(),
    }  # fmt: skip
    async with FaultyTwilio(faults=faults, **twilio_args) as twilio:
        operators = operators_of(plan, rng, behaviour, kind=ReconnectingOperator)
        consoles = [asyncio.create_task(op.run(stop)) for op in operators]
        # Calls only once the consoles are logged in, as ``run.simulate``: a queue nobody staffs yet
        # offers a callback at once, whatever the fault under test.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(op.online.wait() for op in operators)), LOGIN_WAIT)
        calls: list[asyncio.Task] = []
        placed = 0
        while placed < plan.calls and (until is None or time.monotonic() < until):
            sid = "CA" + uuid.uuid4().hex
            caller = f"+1415555{rng.randrange(0, 10_000):04d}"
            calls.append(
                asyncio.create_task(twilio.place_call(sid=sid, to=rng.choice(plan.numbers), caller=caller))
            )
            placed += 1
            await asyncio.sleep(rng.expovariate(plan.rate))
        await asyncio.gather(*calls)
        await twilio.drain()
        settled = await settle(twilio.records) if settle is not None else None
        stop.set()
        await asyncio.gather(*consoles, return_exceptions=True)
        return {
            **kpis(twilio.records, plan.service_level_seconds),
            "records": twilio.records,
            "operators": [vars(op.stats) | {"calls": len(op.stats.calls)} for op in operators],
            "settled": settled,
            "faults": {"lost": len(faults.lost), "late": len(faults.late), "refused": len(faults.refused)},
            "lost_sids": sorted(set(faults.lost)),
        }
