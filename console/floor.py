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

from telephony import console_presence, routing
from tenants.models import Client
from tenants.sockets import in_tenant

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
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
    """One open console socket: whose, on which channel, and the offers it was sent."""

    profile_id: int
    channel: str
    tenant: Client
    watch: OfferWatch = field(default_factory=OfferWatch)


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

    def __init__(self) -> None:
        self.seats: set[Seat] = set()
        self.tasks: list[asyncio.Task[None]] = []
        self.beat_at = float("-inf")  # when presence was last refreshed
        self.looked_at = float("-inf")  # when every operator's overdue offers were last looked for

    def sit(self, seat: Seat) -> None:
        """A console socket opened (its first beat is its own: the operator is live at once)."""
        self.seats.add(seat)
        if not self.tasks or any(task.done() for task in self.tasks):
            for task in self.tasks:
                task.cancel()
            loop = asyncio.get_running_loop()
            self.tasks = [loop.create_task(self._every(self.beat)), loop.create_task(self._every(self.look))]

    def stand(self, seat: Seat) -> None:
        """A console socket closed; the tasks end with the last seat."""
        self.seats.discard(seat)

    async def _every(self, step: Callable[[float], Awaitable[None]]) -> None:
        while self.seats:
            try:
                await step(time.time())
            except Exception:  # a bug: logged, and the next tick runs all the same
                log.exception("console floor: %s failed", step.__name__)
            await asyncio.sleep(TICK_SECONDS)

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
    """The running event loop's floor."""
    loop = asyncio.get_running_loop()
    if loop not in _floors:
        _floors[loop] = Floor()
    return _floors[loop]
