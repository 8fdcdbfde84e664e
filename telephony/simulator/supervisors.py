"""A supervisor played on the wallboard (R21): watches the live calls pushed over the wallboard
socket, joins one listening, then whispers to the operator, barges in, and leaves, through the
same HTTP endpoints the wallboard page calls. A refusal (the call ended meanwhile, Twilio busy) is
counted, never fatal: the next live call is tried."""

from __future__ import annotations

import asyncio
import json
import random
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from websockets.asyncio.client import connect

MODES = ("listen", "whisper", "barge")


@dataclass
class SupervisorStats:
    username: str
    sessions: int = 0
    modes: list[str] = field(default_factory=list)  # every mode taken, in order
    left: int = 0
    refused: list[str] = field(default_factory=list)


class SimulatedSupervisor:
    """One supervisor's wallboard: a session cookie, the wallboard socket and its JSON endpoints."""

    def __init__(self, *, username: str, session: str, base_url: str, connect_to: str, rng: random.Random,
                 dwell: tuple[float, float] = (0.3, 0.8)) -> None:  # fmt: skip
        self.stats = SupervisorStats(username=username)
        self.session, self.base_url, self.connect_to = session, base_url.rstrip("/"), connect_to
        self.rng, self.dwell = rng, dwell
        self.http: aiohttp.ClientSession | None = None
        self.tried: set[int] = set()

    async def run(self, stop: asyncio.Event) -> None:
        csrf = secrets.token_hex(16)
        self.http = aiohttp.ClientSession(
            headers={"Cookie": f"sessionid={self.session}; csrftoken={csrf}", "X-CSRFToken": csrf,
                     "Host": urlsplit(self.base_url).netloc},
            timeout=aiohttp.ClientTimeout(total=20),
        )  # fmt: skip
        try:
            while not stop.is_set():
                try:
                    await self._board(stop)
                except (TimeoutError, OSError, ConnectionError):
                    await asyncio.sleep(0.5)
        finally:
            await self.http.close()

    async def _board(self, stop: asyncio.Event) -> None:
        host = urlsplit(self.base_url).netloc
        headers = {"Cookie": f"sessionid={self.session}", "Origin": self.base_url}
        connect_host, connect_port = self.connect_to.rsplit(":", 1)
        async with connect(f"ws://{host}/ws/wallboard/", additional_headers=headers, host=connect_host,
                           port=int(connect_port), open_timeout=10) as ws:  # fmt: skip
            while not stop.is_set():
                try:
                    snapshot = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                except TimeoutError:
                    continue
                call = next((c for c in snapshot.get("calls", []) if c["id"] not in self.tried), None)
                if call is not None:
                    self.tried.add(call["id"])
                    await self.supervise(call["id"])

    async def supervise(self, call_id: int) -> None:
        """Listen, whisper, barge, leave; stops at the first refusal (the call may have ended)."""
        for mode in MODES:
            answer = await self._post(f"calls/{call_id}", {"mode": mode, "device": "browser"})
            if answer is None:
                return
            if mode == "listen":
                self.stats.sessions += 1
            self.stats.modes.append(answer["session"]["mode"])
            await asyncio.sleep(self.rng.uniform(*self.dwell))
        if await self._post("leave", {}) is not None:
            self.stats.left += 1

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        assert self.http is not None
        async with self.http.post(
            f"http://{self.connect_to}/wallboard/supervision/{path}", json=body
        ) as response:
            if response.status == 409:
                self.stats.refused.append((await response.json()).get("error", ""))
                return None
            if response.status >= 400:
                raise RuntimeError(f"supervision {path} answered {response.status}")
            return await response.json()
