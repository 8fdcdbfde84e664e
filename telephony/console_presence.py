"""Operators' presence by heartbeat (issue 22, R16): an operator is at their console while one of
its sockets beat within ``PRESENCE_SECONDS``, whatever crashed in between.

Counting open sockets leaked (a push to a socket that had just closed skipped its disconnect
handler; a crash of the web process or of Redis lost the decrement), and a leaked count left the
operator ``available`` with nobody at the console. Here each socket refreshes its own member of one
Redis sorted set (score: the time of its last beat) every ``BEAT_SECONDS``; a socket that closes
removes its member; ``sweep`` sets offline whoever has no member fresher than ``PRESENCE_SECONDS``
(their ringing offer closed and re-routed by ``profile_set_state``). A node that starts removes the
members it owned (``forget_node``), so a crashed process's sockets count for nothing.

Operators on a call keep it while the call goes on (their browser phone may still be connected,
and a page reload finds the call); in wrap-up they get ``WRAP_UP_GRACE_SECONDS`` to come back
before going offline. No operator is left on call with nobody (issue 22's ghost operators): an
operator on call with no live console whose call is over (no bridged call of theirs) goes offline;
one whose only work is an outbound call not dialled yet (a preview: ``placed_at`` empty, still
``queued``) goes offline and the call is announced (``events.orphaned_before_dial``: outbound gives
the work back to its campaign); and one whose console was already gone when their call ended
(``UNTIL_KEY``: when each operator's consoles stop counting as live) goes offline at once, not
after the wrap-up grace.

Redis down: beats are skipped (logged once), and the sweep does nothing; a Redis that restarted
empty is not read as "everybody left": the sweep waits until the set has existed for
``PRESENCE_SECONDS`` (a marker key written with the first beat after the restart).
Operators are platform users: the keys carry no client company's data.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypeVar

import redis
import redis.asyncio
from django.conf import settings
from django_tenants.utils import tenant_context

from config import redis_clients
from config.queries import one
from telephony.calls.models import Call
from telephony.events import announce_on_commit, orphaned_before_dial
from telephony.operators import InvalidTransition
from telephony.routing import profile_set_state
from telephony.routing_models import OperatorProfile, OperatorState, WaitingCall

log = logging.getLogger(__name__)

KEY = "cc:consoles"
SINCE_KEY = "cc:consoles:since"
UNTIL_KEY = "cc:consoles:until"  # operator id → until when their consoles count as live
BEAT_SECONDS = 5.0
PRESENCE_SECONDS = 15.0
WRAP_UP_GRACE_SECONDS = 600.0
S = OperatorState
OUTAGE = redis_clients.UNREACHABLE


def client() -> redis.Redis:
    """The process's client of the Redis that keeps the consoles' presence."""
    return redis_clients.shared(settings.CONSOLE_PRESENCE_REDIS_URL)


def node_name() -> str:
    """This server's name, the same after a restart: ``CONSOLE_NODE``, else the host name.

    Several processes sharing a name is harmless: one that starts removes its siblings' members too,
    and they beat again within ``BEAT_SECONDS``, long before the sweep would miss them.
    """
    return os.environ.get("CONSOLE_NODE") or socket.gethostname()


def member(*, operator_id: int, node: str, channel: str) -> str:
    return f"{operator_id}|{node}|{channel}"


Pipe = TypeVar("Pipe", redis.client.Pipeline, redis.asyncio.client.Pipeline)


def _beat_commands(
    pipe: Pipe, consoles: Sequence[tuple[int, str]], *, node: str | None, now: float | None
) -> Pipe:
    """The writes of a beat of ``consoles`` (operator id, channel), queued on ``pipe`` (sync or
    asyncio: the same commands)."""
    now = time.time() if now is None else now
    node = node or node_name()
    if consoles:
        pipe.zadd(KEY, {member(operator_id=op, node=node, channel=channel): now for op, channel in consoles})
        pipe.set(SINCE_KEY, now, nx=True)
        pipe.hset(UNTIL_KEY, mapping={str(op): now + PRESENCE_SECONDS for op, _channel in consoles})
    return pipe


def beat(*, operator_id: int, channel: str, node: str | None = None, now: float | None = None) -> bool:
    """This console socket is alive, from synchronous code (a shell; tests playing another node's
    socket): the web beats its sockets with ``abeat``. False when Redis could not be reached."""
    try:
        pipe = client().pipeline(transaction=False)
        _beat_commands(pipe, [(operator_id, channel)], node=node, now=now).execute()
    except OUTAGE:
        log.warning("console presence not refreshed: Redis unreachable", exc_info=False)
        return False
    return True


async def abeat(
    consoles: Sequence[tuple[int, str]], *, node: str | None = None, now: float | None = None
) -> bool:
    """``beat`` of these console sockets (operator id, channel) at once, from their event loop with
    the loop's own Redis client: one round trip for every console of a web process (a beat each was
    200 round trips a second at 1,000 consoles; issue 23)."""
    try:
        pipe = redis_clients.shared_async(settings.CONSOLE_PRESENCE_REDIS_URL).pipeline(transaction=False)
        await _beat_commands(pipe, consoles, node=node, now=now).execute()
    except OUTAGE:
        log.warning("console presence not refreshed: Redis unreachable", exc_info=False)
        return False
    return True


def leave(*, operator_id: int, channel: str, node: str | None = None) -> bool:
    """This console socket closed; True when no other console of the operator is alive."""
    try:
        client().zrem(KEY, member(operator_id=operator_id, node=node or node_name(), channel=channel))
        last = operator_id not in live_operators()
        if last:
            client().hset(UNTIL_KEY, str(operator_id), time.time())
    except OUTAGE:
        log.warning("console presence not removed: Redis unreachable; the sweep will see it go")
        return False
    return last


def live_operators(*, now: float | None = None) -> set[int]:
    """Operators with at least one console that beat within ``PRESENCE_SECONDS``."""
    now = time.time() if now is None else now
    members = client().zrangebyscore(KEY, now - PRESENCE_SECONDS, "+inf")
    return {int(m.split(b"|", 1)[0]) for m in members}


def forget_node(node: str | None = None) -> int:
    """A server process starts: the consoles an earlier process of this name held are gone."""
    node = node or node_name()
    try:
        mine = [name for name, _score in client().zscan_iter(KEY, match=f"*|{node}|*")]
        return client().zrem(KEY, *mine) if mine else 0
    except OUTAGE:
        log.warning("console presence of node %s not cleared: Redis unreachable", node)
        return 0


def sweep(*, now: float | None = None) -> list[int]:
    """Set offline the operators with no live console (see the module docstring); their ids."""
    now = time.time() if now is None else now
    try:
        since = client().get(SINCE_KEY)
        if since is None or now - float(since) < PRESENCE_SECONDS:
            return []  # Redis (re)started empty a moment ago: consoles have not beat yet
        client().zremrangebyscore(KEY, "-inf", now - 4 * PRESENCE_SECONDS)  # long gone
        live = live_operators(now=now)
        until = {int(op): float(at) for op, at in client().hgetall(UNTIL_KEY).items()}
    except OUTAGE:
        log.warning("console presence not swept: Redis unreachable")
        return []
    offline = _on_call_with_nobody(live)
    gone = OperatorProfile.objects.exclude(pk__in=live).filter(state__in=[S.AVAILABLE, S.RESERVED, S.BREAK])
    for profile_id in [*gone.values_list("pk", flat=True), *_wrap_up_over(live, until, now)]:
        if _set_offline(profile_id):
            offline.append(profile_id)
    if offline:
        log.warning("operators set offline, no live console for %.0f s: %s", PRESENCE_SECONDS, offline)
    return offline


def _set_offline(profile_id: int) -> bool:
    try:
        profile_set_state(profile_id=profile_id, state=S.OFFLINE, reason="no console")
    except InvalidTransition:
        return False  # their state moved meanwhile (an accepted call): the next sweep looks again
    return True


def _wrap_up_over(live: set[int], until: dict[int, float], now: float) -> list[int]:
    """Operators in wrap-up with no live console: past the grace, or whose consoles had stopped
    counting as live before their call ended (nobody is there to wrap it up)."""
    grace_over = datetime.fromtimestamp(now - WRAP_UP_GRACE_SECONDS, tz=UTC)
    wrapping = OperatorProfile.objects.exclude(pk__in=live).filter(state=S.WRAP_UP)
    return [
        pk
        for pk, since in wrapping.values_list("pk", "state_since")
        if since <= grace_over or (pk in until and until[pk] < since.timestamp())
    ]


def _undialled(waiting: WaitingCall) -> Call | None:
    """The outbound call record of this router row when it was never dialled (a preview)."""
    if waiting.direction != WaitingCall.Direction.OUTBOUND:
        return None
    with tenant_context(waiting.tenant):
        call = one(Call.objects.filter(call_sid=waiting.call_sid))
    if call is None or call.placed_at is not None or call.status != Call.Status.QUEUED:
        return None
    return call


def _on_call_with_nobody(live: set[int]) -> list[int]:
    """Operators on call with no live console whose call is over, or not dialled yet: offline (an
    undialled outbound call is announced, for outbound to give the work back). Operators whose
    call goes on keep it: a page reload finds it."""
    offline = []
    for profile_id in (
        OperatorProfile.objects.exclude(pk__in=live).filter(state=S.ON_CALL).values_list("pk", flat=True)
    ):
        theirs = list(
            WaitingCall.objects.filter(
                operator_id=profile_id, state=WaitingCall.State.BRIDGED
            ).select_related("tenant")
        )
        undialled = [(waiting, _undialled(waiting)) for waiting in theirs]
        if any(call is None for _waiting, call in undialled):
            continue  # a call goes on (inbound, or outbound placed)
        if not _set_offline(profile_id):
            continue
        offline.append(profile_id)
        for waiting, call in undialled:
            with tenant_context(waiting.tenant):
                announce_on_commit(orphaned_before_dial, call_id=call.pk, operator_id=profile_id)
    return offline
