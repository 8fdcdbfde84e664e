"""A supervisor played on the wallboard (R21): watches the live calls pushed over the wallboard
socket, joins one listening, then whispers to the operator, barges in, and leaves, through the
same HTTP endpoints the wallboard page calls. A refusal (the call ended meanwhile, Twilio busy) is
counted, never fatal: the next live call is tried.

The supervisor works the calls that come in while they watch: the calls already on the board at
their first snapshot (another run's, or rows left by earlier tests) are not theirs to try, and
would otherwise be tried first, the oldest being listed first. A call is listed from its accept,
a moment before the operator's leg joins: Listen is refused until then ("not connected to an
operator now"), so a call refused before its first session is tried again while it is listed."""

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
        self.tried: set[int] = set()  # calls supervised (or on the board before we looked)
        self.watching = asyncio.Event()  # the first snapshot is in: the calls before it are set aside

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
                live = [c["id"] for c in snapshot.get("calls", [])]
                if not self.watching.is_set():
                    self.tried.update(live)
                    self.watching.set()
                    continue
                for call_id in live:
                    if call_id not in self.tried and await self.supervise(call_id):
                        self.tried.add(call_id)
                        break

    async def supervise(self, call_id: int) -> bool:
        """Listen, whisper, barge, leave; stops at the first refusal (the call may have ended).
        False when Listen itself was refused: no session began on this call."""
        for mode in MODES:
            answer = await self._post(f"calls/{call_id}", {"mode": mode, "device": "browser"})
            if answer is None:
                return mode != "listen"
            if mode == "listen":
                self.stats.sessions += 1
            self.stats.modes.append(answer["session"]["mode"])
            await asyncio.sleep(self.rng.uniform(*self.dwell))
        if await self._post("leave", {}) is not None:
            self.stats.left += 1
        return True

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
