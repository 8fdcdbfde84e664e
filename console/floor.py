"""The console sockets of one web process, kept alive together (issues 22 and 23).

Each open console socket takes a ``Seat`` on its event loop's ``Floor`` (a web process runs one
loop; a test, a few). Every ``TICK_SECONDS`` while any seat is taken, the floor's tasks see that:

- every ``BEAT_SECONDS`` the presence of every seat is refreshed in one Redis round trip
  (``console_presence.abeat``). A beat per socket was 200 round trips a second at 1,000 consoles,
  8 % of the web's time. The beat has a task of its own that touches only Redis: a database that
  is slow or gone never holds it up (a batched beat that waited in line with the database work
  was tried once and reverted: a soak found every console of a process swept offline);
- a seat's operator's offer is expired once one the socket was sent is past its deadline
  (``OfferWatch``), so offers expire even while no Celery worker runs;
- every ``OFFER_LOOK_SECONDS`` every operator's overdue offer is looked for, which finds an offer
  whose push was lost (the console never heard of it). One statement per process and period, not
  one per console: 1,000 consoles asking was 33 queries a second.

A failure (the database or Redis down, or a bug) is logged and the next tick tries again: it
never ends a task while a seat is taken. A server that
crashes takes its floor with it: its consoles stop beating and the presence sweep sets their
operators offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from config import redis_clients
from telephony import console_presence, routing
from tenants.models import Client
from tenants.sockets import in_tenant

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
CANARY_SECONDS = 0.5  # how often a floor sends itself a canary through the channel layer
CANARY_TIMEOUT = 2.0  # a canary not back by then was lost
OFFER_LOOK_SECONDS = 30.0  # how often each web process looks for overdue offers it was not told of
# At most this many expired by one such look (each re-routes its call after its commit, on the
# thread every console's database work waits on); the rest at the next look, or by the tick.
OFFER_LOOK_LIMIT = 20


@dataclass
class OfferWatch:
    """The offers one console socket was sent and not yet told the end of (reservation id → its
    deadline, epoch seconds), so that the database is asked only when one of them may be overdue
    (``due``)."""

    offers: dict[int, float] = field(default_factory=dict)

    def note(self, message: dict[str, Any]) -> None:
        """A message this socket sends: an offer starts being watched; its end stops it."""
        reservation = message.get("reservation")
        if not isinstance(reservation, int):
            return
        if message.get("type") == "offer":
            with contextlib.suppress(KeyError, TypeError, ValueError):
                self.offers[reservation] = datetime.fromisoformat(message["expires_at"]).timestamp()
        elif message.get("type") in {"offer_cancelled", "call_lost", "accepted"}:
            self.offers.pop(reservation, None)

    def due(self, now: float) -> bool:
        """Whether the operator's overdue offer should be looked for in the database now."""
        return any(at <= now for at in self.offers.values())

    def looked(self, now: float) -> None:
        """The database was asked: the offers due by ``now`` were expired then (or were being
        answered: their end is pushed), so they are no longer watched."""
        self.offers = {reservation: at for reservation, at in self.offers.items() if at > now}


@dataclass(eq=False)
class Seat:
    """One open console socket: whose, on which channel, the offers it was sent, and how to tell
    it everything again (``resume``: after the channel layer may have lost a push to it)."""

    profile_id: int
    channel: str
    tenant: Client
    watch: OfferWatch = field(default_factory=OfferWatch)
    resume: Callable[[], Awaitable[None]] | None = None


@dataclass
class Canary:
    """Messages a floor sends itself through the channel layer, to learn when the layer may have
    lost pushes to its sockets. On Redis publish/subscribe a message published while the
    process's subscription is down (Redis restarted, the connection dropped) is lost, and the
    socket stays open: nothing else tells it.

    The layer is broken when a canary could not be sent, when one is not back within
    ``CANARY_TIMEOUT`` seconds, or when Redis is another server than before (its ``run_id``: a
    restart). The last is needed because redis-py subscribes again at once when Redis comes back
    quickly: a restart shorter than the canaries' period would go unseen. The first canary sent
    after the break that comes back proves the subscription is live again; only then are the
    sockets told everything again (told sooner, they could miss a push made in between)."""

    sent: int = 0  # the number of the last canary sent
    sent_at: float = 0.0
    seen: int = 0  # the highest number back
    broken: bool = False
    server: str = ""  # the run_id of the layer's Redis when last asked

    def server_is(self, run_id: str) -> None:
        """The layer's Redis says who it is: another server (a restart) breaks the layer."""
        if self.server and run_id != self.server:
            self.broken, self.sent_at = True, float("-inf")
        self.server = run_id

    def due(self, now: float) -> bool:
        """Whether to send the next canary now (the last is back, or given up); a canary given up
        marks the layer broken."""
        if self.seen >= self.sent:
            return True
        if now - self.sent_at > CANARY_TIMEOUT:
            self.broken = True
            return True
        return False

    def sending(self, now: float) -> int:
        self.sent, self.sent_at = self.sent + 1, now
        return self.sent

    def failed(self) -> None:
        """The canary could not be sent (Redis is away): the next is sent at the next tick."""
        self.broken, self.sent_at = True, float("-inf")

    def back(self, number: int) -> bool:
        """A canary came back; True when the layer was broken and works again (resume now)."""
        self.seen = max(self.seen, number)
        if self.broken and self.seen >= self.sent:
            self.broken = False
            return True
        return False


def expire_own(profile_id: int) -> int:
    """An offer a console was sent is past its deadline: the operator's overdue offer expires."""
    return routing.expire_reservations(operator_id=profile_id)


def expire_lost() -> int:
    """The process's look: every operator's overdue offer expires (at most ``OFFER_LOOK_LIMIT``)."""
    return routing.expire_reservations(limit=OFFER_LOOK_LIMIT)


class Floor:
    """The seats of one event loop and the two tasks that keep them (see the module docstring):
    one beats their presence (Redis only, so a slow or stopped database never holds up a beat),
    the other looks for overdue offers (the database, through the thread every console's
    database work waits on)."""

    def __init__(self, layer: Any = None, redis_url: str | None = None) -> None:
        self.seats: set[Seat] = set()
        self.tasks: list[asyncio.Task[None]] = []
        self.beat_at = float("-inf")  # when presence was last refreshed
        self.looked_at = float("-inf")  # when every operator's overdue offers were last looked for
        self.layer = layer if layer is not None else get_channel_layer()
        self.redis_url = redis_url or settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]
        self.canary = Canary()
        self.canary_channel: str | None = None
        self.resuming: asyncio.Task[None] | None = None

    def sit(self, seat: Seat) -> None:
        """A console socket opened (its first beat is its own: the operator is live at once)."""
        self.seats.add(seat)
        if not self.tasks or any(task.done() for task in self.tasks):
            for task in self.tasks:
                task.cancel()
            loop = asyncio.get_running_loop()
            self.tasks = [
                loop.create_task(self._every(self.beat)),
                loop.create_task(self._every(self.look)),
                loop.create_task(self._every(self.send_canary, CANARY_SECONDS)),
                loop.create_task(self._read_canaries()),
            ]

    def stand(self, seat: Seat) -> None:
        """A console socket closed; the tasks end with the last seat."""
        self.seats.discard(seat)
        if not self.seats:
            for task in self.tasks:
                task.cancel()
            self.tasks, self.canary, self.canary_channel = [], Canary(), None

    async def _every(self, step: Callable[[float], Awaitable[None]], seconds: float | None = None) -> None:
        while self.seats:
            try:
                await step(time.time())
            except Exception:  # a bug: logged, and the next tick runs all the same
                log.exception("console floor: %s failed", step.__name__)
            await asyncio.sleep(TICK_SECONDS if seconds is None else seconds)

    async def send_canary(self, now: float) -> None:
        """Which server the layer's Redis is, then the next canary through the channel layer, once
        the last is back or given up."""
        try:
            server = await redis_clients.shared_async(self.redis_url).info("server")
            self.canary.server_is(str(server.get("run_id", "")))
            if self.canary.due(now) and self.canary_channel is not None:
                message = {"type": "floor.canary", "n": self.canary.sending(now)}
                await self.layer.send(self.canary_channel, message)
        except Exception:  # Redis away: the layer is broken until a canary comes back
            self.canary.failed()

    async def _read_canaries(self) -> None:
        while self.seats:
            try:
                if self.canary_channel is None:
                    self.canary_channel = await self.layer.new_channel("floor.")
                message = await self.layer.receive(self.canary_channel)
            except Exception:  # Redis away (the layer may raise or wait): the canary tells
                await asyncio.sleep(TICK_SECONDS)
                continue
            if self.canary.back(int(message.get("n", 0))):
                log.warning(
                    "channel layer back after an outage: %d consoles told everything again", len(self.seats)
                )
                self.resuming = asyncio.get_running_loop().create_task(self.resume(list(self.seats)))

    async def resume(self, seats: list[Seat]) -> None:
        """Each of ``seats`` is told everything again (a push to it may have been lost)."""
        for seat in seats:
            if seat.resume is not None and seat in self.seats:
                try:
                    await seat.resume()
                except Exception:  # the database is down too, or the socket closed meanwhile
                    log.warning("console of operator %s not resumed", seat.profile_id, exc_info=True)

    async def beat(self, now: float) -> None:
        """Every ``BEAT_SECONDS``: the presence of every seat, in one round trip (a Redis that does
        not answer fails it within the client's timeout; the next period tries again)."""
        if self.seats and now - self.beat_at >= console_presence.BEAT_SECONDS:
            self.beat_at = now
            await console_presence.abeat([(seat.profile_id, seat.channel) for seat in self.seats], now=now)

    async def look(self, now: float) -> None:
        """The overdue offers of the seats whose offer is due; every operator's once a period."""
        seats = list(self.seats)
        for seat in seats:
            if seat.watch.due(now):
                try:
                    await in_tenant(seat.tenant, expire_own)(seat.profile_id)
                except Exception:  # the database is down: the next tick asks again
                    log.warning("overdue offer of operator %s not expired", seat.profile_id, exc_info=True)
                else:
                    seat.watch.looked(now)
        if seats and now - self.looked_at >= OFFER_LOOK_SECONDS:
            self.looked_at = now
            try:
                await in_tenant(seats[0].tenant, expire_lost)()
            except Exception:
                log.warning("look for offers whose push was lost failed", exc_info=True)


_floors: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Floor] = weakref.WeakKeyDictionary()


def floor() -> Floor:
    """The running event loop's floor (of the default channel layer)."""
    loop = asyncio.get_running_loop()
    if loop not in _floors:
        _floors[loop] = Floor()
    return _floors[loop]
