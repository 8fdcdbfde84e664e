"""Operators played over the console WebSocket: available, accept offers, talk, wrap up, sometimes miss."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from websockets.asyncio.client import connect


@dataclass
class Behaviour:
    answer_delay: tuple[float, float] = (0.2, 1.0)  # seconds before clicking accept
    wrap_up: tuple[float, float] = (0.5, 2.0)  # seconds of wrap-up before available again
    miss: float = 0.0  # chance of letting an offer ring out
    logout: float = 0.0  # chance of dropping the console when an offer comes


@dataclass
class OperatorStats:
    username: str
    offers: int = 0
    accepted: int = 0
    missed: int = 0
    dropped: int = 0
    calls: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class SimulatedOperator:
    """One operator's console: a session cookie and the operator socket on the platform host."""

    def __init__(self, *, username: str, session: str, base_url: str, connect_to: str,
                 rng: random.Random, behaviour: Behaviour) -> None:  # fmt: skip
        self.stats = OperatorStats(username=username)
        self.session, self.base_url, self.connect_to = session, base_url.rstrip("/"), connect_to
        self.rng, self.behaviour = rng, behaviour

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._console(stop)
            except (TimeoutError, OSError, ConnectionError):
                await asyncio.sleep(0.5)  # the server restarted or the socket dropped: reconnect
            except Exception as exc:
                if "close" not in type(exc).__name__.lower() and "Closed" not in str(type(exc)):
                    raise
                await asyncio.sleep(0.5)

    async def _console(self, stop: asyncio.Event) -> None:
        host = urlsplit(self.base_url).netloc
        origin = self.base_url
        headers = {"Cookie": f"sessionid={self.session}", "Origin": origin}
        uri = f"ws://{host}/ws/operator/"
        connect_host, connect_port = self.connect_to.rsplit(":", 1)
        async with connect(uri, additional_headers=headers, host=connect_host, port=int(connect_port),
                           open_timeout=10) as ws:  # fmt: skip
            await ws.send(json.dumps({"type": "set_state", "state": "available"}))
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "offer":
                    if await self._offer(ws, message) == "dropped":
                        return
                elif kind == "state" and message.get("state") == "wrap_up":
                    await asyncio.sleep(self.rng.uniform(*self.behaviour.wrap_up))
                    await ws.send(json.dumps({"type": "set_state", "state": "available"}))
                elif kind == "state" and message.get("state") in {"offline", "break"}:
                    # Set away by the router after missed offers: come back after a pause.
                    await asyncio.sleep(1.0)
                    await ws.send(json.dumps({"type": "set_state", "state": "available"}))

    async def _offer(self, ws, offer: dict) -> str:
        self.stats.offers += 1
        roll = self.rng.random()
        if roll < self.behaviour.logout:
            self.stats.dropped += 1
            await ws.close()
            await asyncio.sleep(1.0)
            return "dropped"
        if roll < self.behaviour.logout + self.behaviour.miss:
            self.stats.missed += 1
            return "missed"
        await asyncio.sleep(self.rng.uniform(*self.behaviour.answer_delay))
        await ws.send(json.dumps({"type": "accept", "reservation": offer["reservation"]}))
        self.stats.accepted += 1
        self.stats.calls.append(offer.get("call_sid", ""))
        return "accepted"
