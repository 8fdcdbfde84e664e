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
  one per console: 1,000 consoles asking was 33 queries a second;
- every ``CANARY_SECONDS`` the floor sends itself a canary through the channel layer (``Canary``)
  and asks its Redis who it is; when a push may have been lost (Redis restarted, a canary lost or
  not sent), every socket is told everything again (``Seat.resume``) once a canary is back;
- every ``CHECK_SECONDS`` what each socket was last told (its operator's state, the offers it was
  sent) is compared with the database, in one statement for the process (``settled``,
  ``Seat.told_apart``). A socket whose operator has settled in a state it was not told, or has a
  ringing offer it was not sent, is told everything again: a push was lost even though no canary
  was (a connection dropped and came back between two canaries, say), and the operator would
  otherwise miss that offer.

A failure (the database or Redis down, or a bug) is logged and the next tick tries again; a task
that ends all the same while a seat is taken is logged and started again. A server that crashes
takes its floor with it: its consoles stop beating and the presence sweep sets their operators
offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection

from config import redis_clients
from telephony import console_presence, routing
from telephony.routing_models import Reservation
from tenants.models import Client
from tenants.sockets import in_tenant

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
CANARY_SECONDS = 0.5  # how often a floor sends itself a canary through the channel layer
CANARY_TIMEOUT = 2.0  # a canary not back by then is sent again
SILENT_SECONDS = 30.0  # no canary back for this long: said loudly
OFFER_LOOK_SECONDS = 30.0  # how often each web process looks for overdue offers it was not told of
# At most this many expired by one such look (each re-routes its call after its commit, on the
# thread every console's database work waits on); the rest at the next look, or by the tick.
OFFER_LOOK_LIMIT = 20
CHECK_SECONDS = 2.0  # how often each web process compares what its consoles were told with the database
# A change younger than this may still be on its way to the console (pushed at its commit): not
# compared yet. A push normally arrives within a few tens of milliseconds.
SETTLE_SECONDS = 2.0
# A socket the comparison told everything again for its state is not told again for its state for
# this long: when the box is so loaded that pushes take longer than ``SETTLE_SECONDS``, resyncs must
# not add to the load. (An offer it was never sent is told at once: once per offer.)
RETELL_SECONDS = 30.0
RESUME_TIMEOUT = 5.0  # a socket that takes longer to be told everything again holds up no other


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
    state: str = ""  # the operator's state the socket was last sent ("": none yet)
    told_at: float = float("-inf")  # when it was last sent anything
    retold_at: float = float("-inf")  # when the comparison last told it everything again for its state

    def note(self, message: dict[str, Any], at: float | None = None) -> None:
        """A message this socket sends (at ``at``, epoch seconds): what it was told of its
        operator's state and offers."""
        self.told_at = time.time() if at is None else at
        if message.get("type") == "state":
            self.state = str(message.get("state", ""))
        self.watch.note(message)

    def told_apart(self, now: Settled | None) -> str | None:
        """What the socket was told otherwise than the database holds (``now``: its operator as
        settled there; None while a change is still young): ``"offer"`` (a ringing offer it was
        never sent), ``"state"``, or None."""
        if now is None or not self.state:
            return None
        if now.offer is not None and now.offer not in self.watch.offers:
            return "offer"
        return "state" if now.state != self.state else None


class Settled(NamedTuple):
    """An operator as the database holds them, once every change is older than
    ``SETTLE_SECONDS``: their state, and their ringing offer (None: none)."""

    state: str
    offer: int | None


# The operators asked for whose state has not changed since the given time, with their ringing
# offer, if any, when it is older than that too (at most one per operator, DB-enforced). One
# statement, the ids as one array: an ``IN`` list of the ~500 ids of a web process's sockets cost
# more than the rest of the comparison, and so did reading the times of every operator.
SETTLED = """
SELECT p.id, p.state, r.id
FROM telephony_operatorprofile p
LEFT JOIN telephony_reservation r ON r.operator_id = p.id AND r.state = %(offered)s
WHERE p.id = ANY(%(operators)s::bigint[]) AND p.state_since <= %(since)s
  AND (r.id IS NULL OR r.offered_at <= %(since)s)
"""


def settled(profile_ids: list[int], before: float) -> dict[int, Settled]:
    """The operators among ``profile_ids`` whose state and ringing offer have not changed since
    ``before`` (epoch seconds), as the database holds them. One statement for every socket of
    the process."""
    since = datetime.fromtimestamp(before, tz=UTC)
    params = {"offered": Reservation.State.OFFERED, "operators": profile_ids, "since": since}
    with connection.cursor() as cursor:
        cursor.execute(SETTLED, params)
        return {pk: Settled(state, offer) for pk, state, offer in cursor.fetchall()}


@dataclass
class Canary:
    """Messages a floor sends itself through the channel layer, to learn when the layer may have
    lost pushes to its sockets. On Redis publish/subscribe a message published while the
    process's subscription is down (Redis restarted, the connection dropped) is lost, and the
    socket stays open: nothing else tells it.

    A push may have been lost when a canary could not be sent, when Redis is another server than
    before (its ``run_id``: a restart; redis-py subscribes again at once when Redis comes back
    quickly, so a restart shorter than the canaries' period would otherwise go unseen), or when a
    canary comes back while an earlier one never did (publish/subscribe keeps their order, so that
    one was lost). A canary only late is not a loss: it is sent again. The next canary back proves
    the subscription is live; only then are the sockets told everything again (told sooner, they
    could miss a push made in between)."""

    sent: int = 0  # the number of the last canary sent
    sent_at: float = float("-inf")
    seen: int = 0  # the highest number back
    back_at: float | None = None  # when one last came back (None: none yet)
    broken: bool = False  # a push may have been lost since the last canary back
    server: str = ""  # the run_id of the layer's Redis when last asked
    silent_said: float = float("-inf")

    def server_is(self, run_id: str) -> None:
        """The layer's Redis says who it is: another server (a restart) breaks the layer."""
        if self.server and run_id != self.server:
            self.broken, self.sent_at = True, float("-inf")
        self.server = run_id

    def due(self, now: float) -> bool:
        """Whether to send the next canary now: the last is back, or late (or the clock stepped
        back)."""
        return self.seen >= self.sent or not 0 <= now - self.sent_at <= CANARY_TIMEOUT

    def sending(self, now: float) -> int:
        self.sent, self.sent_at = self.sent + 1, now
        return self.sent

    def failed(self) -> None:
        """The canary could not be sent (Redis is away): the next is sent at the next tick."""
        self.broken, self.sent_at = True, float("-inf")

    def back(self, number: int, now: float) -> bool:
        """A canary came back; True when a push may have been lost since the last one (resume now)."""
        lost = number > self.seen + 1
        self.seen, self.back_at = max(self.seen, number), now
        resume, self.broken = self.broken or lost, False
        return resume

    def silent(self, now: float) -> bool:
        """True (at most every ``SILENT_SECONDS``) once no canary has come back for that long:
        the process hears nothing through the layer, and only its restart will mend that."""
        since = self.back_at if self.back_at is not None else self.sent_at
        if self.seen < self.sent and now - since > SILENT_SECONDS and now - self.silent_said > SILENT_SECONDS:
            self.silent_said = now
            return True
        return False


def expire_own(profile_id: int) -> int:
    """An offer a console was sent is past its deadline: the operator's overdue offer expires."""
    return routing.expire_reservations(operator_id=profile_id)


def expire_lost() -> int:
    """The process's look: every operator's overdue offer expires (at most ``OFFER_LOOK_LIMIT``)."""
    return routing.expire_reservations(limit=OFFER_LOOK_LIMIT)


class Floor:
    """The seats of one event loop and the tasks that keep them (see the module docstring): one
    beats their presence (Redis only, so a slow or stopped database never holds up a beat), one
    looks for overdue offers (the database, through the thread every console's database work
    waits on), and two send and read the canaries. A task that ends while a seat is taken (a
    bug) is logged and every task started again; only the last seat's leaving stops them."""

    def __init__(self, layer: Any = None, redis_url: str | None = None) -> None:
        self.seats: set[Seat] = set()
        self.tasks: list[asyncio.Task[None]] = []
        self.beat_at = float("-inf")  # when presence was last refreshed
        self.looked_at = float("-inf")  # when every operator's overdue offers were last looked for
        self.checked_at = float("-inf")  # when what the seats were told was last compared
        self.beating: asyncio.Future[bool] | None = None  # the beat being written now
        self.layer = layer if layer is not None else get_channel_layer()
        self.redis_url = redis_url or settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]
        self.canary = Canary()
        self.canary_channel: str | None = None
        self.resuming: asyncio.Task[None] | None = None
        self.resume_again = False

    def sit(self, seat: Seat) -> None:
        """A console socket opened (its first beat is its own: the operator is live at once)."""
        self.seats.add(seat)
        if not self.tasks:
            self._start()

    async def stand(self, seat: Seat) -> None:
        """A console socket closed; the tasks stop with the last seat. Returns once a beat under
        way (which may name this seat) is written, so that the socket's ``leave`` comes after it:
        a beat landing after the leave would bring the socket back for ``PRESENCE_SECONDS``."""
        self.seats.discard(seat)
        beating = self.beating
        if not self.seats:
            self._stop()
        if beating is not None and not beating.done():
            with contextlib.suppress(Exception):  # its failure is the beat's to log
                await asyncio.wait_for(asyncio.shield(beating), console_presence.BEAT_SECONDS)

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self.canary, self.canary_channel = Canary(), None
        self.tasks = [
            loop.create_task(self._every(self.beat, TICK_SECONDS)),
            loop.create_task(self._every(self.look, TICK_SECONDS)),
            loop.create_task(self._every(self.check, TICK_SECONDS)),
            loop.create_task(self._every(self.send_canary, CANARY_SECONDS)),
            loop.create_task(self._read_canaries()),
        ]
        for task in self.tasks:
            task.add_done_callback(self._ended)

    def _stop(self) -> None:
        tasks, self.tasks = self.tasks, []
        for task in tasks:
            task.cancel()

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task not in self.tasks:  # stopped by ``_stop``
            return
        error = None if task.cancelled() else task.exception()
        log.error("console floor: a task ended with %d consoles open; started again", len(self.seats),
                  exc_info=error)  # fmt: skip
        self._stop()
        if self.seats:
            self._start()

    async def _every(self, step: Callable[[float], Awaitable[None]], seconds: float) -> None:
        while True:
            try:
                await step(time.time())
            except Exception:  # a bug: logged, and the next tick runs all the same
                log.exception("console floor: %s failed", step.__name__)
            await asyncio.sleep(seconds)

    async def beat(self, now: float) -> None:
        """Every ``BEAT_SECONDS``: the presence of every seat, in one round trip (a Redis that does
        not answer fails it within the client's timeout; the next period tries again)."""
        if self.seats and not 0 <= now - self.beat_at < console_presence.BEAT_SECONDS:
            self.beat_at = now
            consoles = [(seat.profile_id, seat.channel) for seat in self.seats]
            self.beating = asyncio.ensure_future(console_presence.abeat(consoles, now=now))
            await asyncio.shield(self.beating)

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
        if seats and not 0 <= now - self.looked_at < OFFER_LOOK_SECONDS:
            self.looked_at = now
            try:  # offers are platform data: any seat's tenant is the platform (consumers.connect)
                await in_tenant(seats[0].tenant, expire_lost)()
            except Exception:
                log.warning("look for offers whose push was lost failed", exc_info=True)

    async def check(self, now: float) -> None:
        """Every ``CHECK_SECONDS``: each seat told something other than the database holds is
        told everything again (one statement for the process; a seat only when it differs)."""
        seats = [seat for seat in self.seats if seat.state]
        if not seats or 0 <= now - self.checked_at < CHECK_SECONDS:
            return
        self.checked_at = now
        try:  # operators are platform data: any seat's tenant is the platform (consumers.connect)
            truth = await in_tenant(seats[0].tenant, settled)(
                [seat.profile_id for seat in seats], now - SETTLE_SECONDS
            )
        except Exception:  # the database is down: the next period compares again
            log.warning("what consoles were told not compared", exc_info=True)
            return
        for seat in seats:
            # Told anything since the comparison began: the database's answer may be older than that.
            if seat.resume is None or seat not in self.seats or seat.told_at >= now:
                continue
            apart = seat.told_apart(truth.get(seat.profile_id))
            if apart is None or (apart == "state" and 0 <= now - seat.retold_at < RETELL_SECONDS):
                continue
            if apart == "state":
                seat.retold_at = now
            log.warning(
                "console of operator %s missed a push (%s): told everything again", seat.profile_id, apart
            )
            try:
                async with asyncio.timeout(RESUME_TIMEOUT):
                    await seat.resume()
            except Exception:  # the socket closed meanwhile, or is stuck, or the database went
                log.warning("console of operator %s not resumed", seat.profile_id, exc_info=True)

    async def send_canary(self, now: float) -> None:
        """Which server the layer's Redis is, then the next canary through the channel layer when
        one is due. Bounded: a Redis that hangs counts as away."""
        try:
            async with asyncio.timeout(CANARY_TIMEOUT):
                server = await redis_clients.shared_async(self.redis_url).info("server")
                self.canary.server_is(str(server.get("run_id", "")))
                if self.canary.due(now) and self.canary_channel is not None:
                    message = {"type": "floor.canary", "n": self.canary.sending(now)}
                    await self.layer.send(self.canary_channel, message)
        except Exception:  # Redis away: consoles are told everything again once a canary is back
            if not self.canary.broken:
                log.warning("channel layer unreachable: pushes to consoles may be lost", exc_info=True)
            self.canary.failed()
        if self.canary.silent(now):
            log.error("channel layer: no canary back for %.0f s; consoles of this process hear nothing "
                      "pushed (restart the web process)", SILENT_SECONDS)  # fmt: skip

    async def _read_canaries(self) -> None:
        while True:
            try:
                if self.canary_channel is None:
                    self.canary_channel = await self.layer.new_channel("floor.")
                message = await self.layer.receive(self.canary_channel)
            except Exception:  # Redis away (the layer may raise or wait): the canary tells
                await asyncio.sleep(TICK_SECONDS)
                continue
            if self.canary.back(int(message.get("n", 0)), time.time()):
                log.warning("channel layer back: %d consoles told everything again", len(self.seats))
                self._resume()

    def _resume(self) -> None:
        """Every seat told everything again, once at a time (asked meanwhile: once more after)."""
        if self.resuming is not None and not self.resuming.done():
            self.resume_again = True
            return
        self.resuming = asyncio.get_running_loop().create_task(self.resume())

    async def resume(self) -> None:
        """Each seat is told everything again (a push to it may have been lost)."""
        while True:
            self.resume_again = False
            for seat in list(self.seats):
                if seat.resume is None or seat not in self.seats:
                    continue
                try:
                    await seat.resume()
                except Exception:  # the database is down too, or the socket closed meanwhile
                    log.warning("console of operator %s not resumed", seat.profile_id, exc_info=True)
            if not self.resume_again:
                return


_floors: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Floor] = weakref.WeakKeyDictionary()


def floor() -> Floor:
    """The running event loop's floor (of the default channel layer)."""
    loop = asyncio.get_running_loop()
    if loop not in _floors:
        _floors[loop] = Floor()
    return _floors[loop]
