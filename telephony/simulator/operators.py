"""Operators played over the console WebSocket: available, accept offers, talk, wrap up, sometimes miss."""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from websockets.asyncio.client import connect


def first_choice(phone: str, step: dict[str, Any]) -> Any:
    """A plausible answer to a script question: the first option, yes, 1, or a short text."""
    question = step.get("question") or {}
    kind = question.get("type")
    if step.get("options"):
        return step["options"][0]["value"]
    if question.get("options"):
        first = question["options"][0]
        return [first] if kind == "multi_choice" else first
    return {"yes_no": "yes", "number": 1, "date": "2030-01-01", "email": "sim@example.com",
            "phone": "+15550100"}.get(kind, "ok")  # fmt: skip


@dataclass
class Behaviour:
    answer_delay: tuple[float, float] = (0.2, 1.0)  # seconds before clicking accept
    wrap_up: tuple[float, float] = (0.5, 2.0)  # seconds of wrap-up before available again
    miss: float = 0.0  # chance of letting an offer ring out
    logout: float = 0.0  # chance of dropping the console when an offer comes
    # Outbound calls: how the person answers each script question (phone, step) → value.
    answer: Callable[[str, dict[str, Any]], Any] = first_choice
    card_data: float = 0.0  # chance the caller pays by card: the recording is paused, then resumed
    card_seconds: tuple[float, float] = (0.2, 0.6)  # how long the card data takes (paused)


@dataclass
class OperatorStats:
    username: str
    offers: int = 0
    accepted: int = 0
    missed: int = 0
    dropped: int = 0
    calls: list[str] = field(default_factory=list)
    accepted_at: dict[str, float] = field(default_factory=dict)  # call sid → the accept sent (monotonic)
    offered_at: dict[str, float] = field(default_factory=dict)  # call sid → its first offer seen here
    errors: list[str] = field(default_factory=list)
    outbound: int = 0  # outbound tasks given (previews and progressive calls)
    outbound_talked: int = 0  # outbound calls connected, walked through the script and wrapped up
    paused: int = 0  # recordings paused for card data (PCI) …
    resumed: int = 0  # … and resumed by the operator (the others ended while paused: the call did)
    # call sid → seconds from sending the pause to the resume's answer: the longest the platform
    # can have measured the pause (it records it between the two requests), however loaded
    pause_windows: dict[str, float] = field(default_factory=dict)


async def _close_when(stop: asyncio.Event, ws: Any) -> None:
    await stop.wait()
    await ws.close()


class SimulatedOperator:
    """One operator's console: a session cookie and the operator socket on the platform host."""

    def __init__(self, *, username: str, session: str, base_url: str, connect_to: str,
                 rng: random.Random, behaviour: Behaviour) -> None:  # fmt: skip
        self.stats = OperatorStats(username=username)
        self.session, self.base_url, self.connect_to = session, base_url.rstrip("/"), connect_to
        self.rng, self.behaviour = rng, behaviour
        self.outbound_tasks: dict[int, asyncio.Task] = {}
        self.card_tasks: set[asyncio.Task] = set()
        self.http: aiohttp.ClientSession | None = None
        self.online = asyncio.Event()  # the server confirmed a working state: staffed on the console

    async def run(self, stop: asyncio.Event) -> None:
        csrf = secrets.token_hex(16)  # 32 characters: Django takes an unmasked secret as the token
        self.http = aiohttp.ClientSession(
            headers={
                "Cookie": f"sessionid={self.session}; csrftoken={csrf}",
                "X-CSRFToken": csrf,
                "Host": urlsplit(self.base_url).netloc,
            },
            timeout=aiohttp.ClientTimeout(total=20),
        )
        try:
            await self._run(stop)
        finally:
            for task in [*self.outbound_tasks.values(), *self.card_tasks]:
                task.cancel()
            await asyncio.gather(*self.outbound_tasks.values(), *self.card_tasks, return_exceptions=True)
            await self.http.close()

    async def _run(self, stop: asyncio.Event) -> None:
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
            # The socket is closed when the run stops: the loop below waits on the socket alone (a
            # timeout on every read of a thousand consoles kept the simulator's loop busy).
            closer = asyncio.create_task(_close_when(stop, ws))
            try:
                dropped = await self._follow(ws)
            finally:
                closer.cancel()
        if not stop.is_set() and not dropped:
            await asyncio.sleep(0.5)  # the server closed the socket: reconnect, as the page does

    async def _follow(self, ws) -> bool:
        """The console's messages until its socket closes; True if an offer made it drop the console."""
        await self._resume()
        await ws.send(json.dumps({"type": "set_state", "state": "available"}))
        async for raw in ws:
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "state" and message.get("state") not in {"offline", "break"}:
                # The push on connect says the state before ours (offline); staffed only after.
                self.online.set()
            if kind == "offer":
                if await self._offer(ws, message) == "dropped":
                    return True
            elif kind == "outbound":
                self._take_outbound(message.get("reservation"))
            elif kind == "state" and message.get("state") == "wrap_up" and self._outbound_busy():
                continue  # the outbound flow wraps up itself
            elif kind == "state" and message.get("state") == "wrap_up":
                await asyncio.sleep(self.rng.uniform(*self.behaviour.wrap_up))
                await ws.send(json.dumps({"type": "set_state", "state": "available"}))
            elif kind == "state" and message.get("state") in {"offline", "break"}:
                # Set away by the router after missed offers: come back after a pause.
                await asyncio.sleep(1.0)
                await ws.send(json.dumps({"type": "set_state", "state": "available"}))
        return False

    async def _resume(self) -> None:
        """As the console page does on each (re)connect: read the state from the server, so an
        outbound call reserved while the socket was down (its push lost) is still worked."""
        try:
            state = await self._api("state")
            if state and state.get("phase") == "call" and isinstance(state.get("reservation"), int):
                view = await self._api(f"calls/{state['reservation']}")
                if view and view.get("outbound"):
                    self._take_outbound(state["reservation"])
        except (aiohttp.ClientError, RuntimeError) as exc:
            self.stats.errors.append(f"console state: {exc}")

    def _take_outbound(self, reservation: Any) -> None:
        if isinstance(reservation, int) and reservation not in self.outbound_tasks:
            self.stats.outbound += 1
            self.outbound_tasks[reservation] = asyncio.create_task(self._outbound(reservation))

    async def _offer(self, ws, offer: dict) -> str:
        self.stats.offers += 1
        self.stats.offered_at.setdefault(offer.get("call_sid", ""), time.monotonic())
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
        self.stats.accepted_at[offer.get("call_sid", "")] = time.monotonic()
        if self.rng.random() < self.behaviour.card_data:
            task = asyncio.create_task(self._card_data(offer["reservation"], offer.get("call_sid", "")))
            self.card_tasks.add(task)
            task.add_done_callback(self.card_tasks.discard)
        return "accepted"

    async def _card_data(self, reservation: int, call_sid: str) -> None:
        """The caller pays by card: once connected, pause the recording, take the card, resume."""
        try:
            for _ in range(200):  # the call is ours, then the leg joins, a moment after the accept
                view = await self._api(f"calls/{reservation}")
                if view is not None and not (view.get("recording") or {}).get("recorded"):
                    return
                if view is not None and view["call"]["connected"]:
                    break
                await asyncio.sleep(0.05)
            else:
                return
            sent = time.monotonic()
            if await self._api(f"calls/{reservation}/recording", {"on": True}) is None:
                return  # refused (the call ended, Twilio unavailable): the console showed why
            self.stats.paused += 1
            await asyncio.sleep(self.rng.uniform(*self.behaviour.card_seconds))
            if await self._api(f"calls/{reservation}/recording", {"on": False}) is not None:
                self.stats.resumed += 1
                self.stats.pause_windows[call_sid] = round(time.monotonic() - sent, 3)
        except (aiohttp.ClientError, TimeoutError, RuntimeError) as exc:
            self.stats.errors.append(f"card data {reservation}: {exc}")

    def _outbound_busy(self) -> bool:
        return any(not task.done() for task in self.outbound_tasks.values())

    async def _api(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The console's JSON endpoints, as the page calls them; None when refused (call over)."""
        assert self.http is not None
        url = f"http://{self.connect_to}/console/{path}"
        request = self.http.get(url) if body is None else self.http.post(url, json=body)
        async with request as response:
            if response.status in (404, 409):
                return None
            if response.status >= 400:
                raise RuntimeError(f"{path} answered {response.status}: {(await response.text())[:200]}")
            return await response.json()

    async def _outbound(self, reservation: int) -> None:
        """An outbound task: dial a preview, wait for the person, walk the script, wrap up."""
        try:
            view = None
            for _ in range(30):  # a push can outrun the card being readable: look again briefly
                view = await self._api(f"calls/{reservation}")
                if view is not None:
                    break
                await asyncio.sleep(0.1)
            if view is None or not view.get("outbound"):
                return  # over before it could be read (busy, no answer): the dialer freed us
            if view["outbound"]["phase"] == "preview":
                await asyncio.sleep(self.rng.uniform(*self.behaviour.answer_delay))  # reads the card
                await self._api(f"calls/{reservation}/dial", {})  # refused: over, or dialed already
            for _ in range(600):
                view = await self._api(f"calls/{reservation}")
                if view is None:
                    return  # not answered: the dialer freed us
                if view["outbound"]["phase"] == "connected":
                    break
                if view["outbound"]["phase"] == "ended":
                    # Still readable: answered, then hung up before we saw it. The call is ours
                    # to wrap up (an unanswered one is wrapped up by the dialer and unreadable).
                    body = {"disposition": _disposition(view, ""), "available": True}
                    await self._api(f"calls/{reservation}/wrap-up", body)
                    return
                await asyncio.sleep(0.1)
            else:
                return
            phone, step = view["contact"]["phone"], view["step"]
            for _ in range(100):
                if step is None or step["final"]:
                    break
                if step["kind"] in ("question", "automatic"):
                    body = {
                        "action": "answer",
                        "node": step["node"],
                        "value": self.behaviour.answer(phone, step),
                    }
                else:
                    body = {"action": "ack", "node": step["node"]}
                result = await self._api(f"calls/{reservation}/script", body)
                if result is None:
                    return
                if result.get("error"):
                    self.stats.errors.append(f"{step['node']}: {result['error']}")
                    return
                step = result["step"]
            disposition = _disposition(view, (step or {}).get("disposition") or "")
            await asyncio.sleep(self.rng.uniform(*self.behaviour.wrap_up))
            if await self._api(
                f"calls/{reservation}/wrap-up", {"disposition": disposition, "available": True}
            ):
                self.stats.outbound_talked += 1
        except (aiohttp.ClientError, TimeoutError, RuntimeError) as exc:
            self.stats.errors.append(f"outbound {reservation}: {exc}")


def _disposition(view: dict, suggested: str) -> str:
    """What an operator picks at wrap-up: the script's suggestion when the company's list has it,
    else the list's first entry; nothing when the company has no list (the console refuses any
    code that is not on it)."""
    codes = [d["code"] for d in view.get("dispositions", [])]
    return suggested if suggested in codes else (codes[0] if codes else "")
