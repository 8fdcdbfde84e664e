"""Operators' presence by heartbeat (issue 22, R16): an operator is at their console while one of
its sockets beat within ``PRESENCE_SECONDS``, whatever crashed in between.

Counting open sockets leaked (a push to a socket that had just closed skipped its disconnect
handler; a crash of the web process or of Redis lost the decrement), and a leaked count left the
operator ``available`` with nobody at the console. Here each socket refreshes its own member of one
Redis sorted set (score: the time of its last beat) every ``BEAT_SECONDS``; a socket that closes
removes its member; ``sweep`` sets offline whoever has no member fresher than ``PRESENCE_SECONDS``
(their ringing offer closed and re-routed by ``profile_set_state``). A node that starts removes the
members it owned (``forget_node``), so a crashed process's sockets count for nothing.

Operators on a call keep it (their browser phone may still be connected; the call's end brings
them to wrap-up); in wrap-up they get ``WRAP_UP_GRACE_SECONDS`` to come back before going offline.

Redis down: beats are skipped (logged once), and the sweep does nothing; a Redis that restarted
empty is not read as "everybody left": the sweep waits until the set has existed for
``PRESENCE_SECONDS`` (a marker key written with the first beat after the restart).
Operators are platform users: the keys carry no client company's data.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime

import redis
from django.conf import settings

from telephony.operators import InvalidTransition
from telephony.routing import profile_set_state
from telephony.routing_models import OperatorProfile, OperatorState

log = logging.getLogger(__name__)

KEY = "cc:consoles"
SINCE_KEY = "cc:consoles:since"
BEAT_SECONDS = 5.0
PRESENCE_SECONDS = 15.0
WRAP_UP_GRACE_SECONDS = 600.0
S = OperatorState
OUTAGE = (redis.ConnectionError, redis.TimeoutError)  # what an unreachable Redis raises (not a bug)

_client: redis.Redis | None = None
_client_lock = threading.Lock()


def client() -> redis.Redis:
    global _client
    with _client_lock:
        if _client is None:
            _client = redis.Redis.from_url(
                settings.CONSOLE_PRESENCE_REDIS_URL, socket_timeout=2, socket_connect_timeout=2
            )
        return _client


def node_name() -> str:
    """This server's name, the same after a restart: ``CONSOLE_NODE``, else the host name.

    Several processes sharing a name is harmless: one that starts removes its siblings' members too,
    and they beat again within ``BEAT_SECONDS``, long before the sweep would miss them.
    """
    return os.environ.get("CONSOLE_NODE") or socket.gethostname()


def member(*, operator_id: int, node: str, channel: str) -> str:
    return f"{operator_id}|{node}|{channel}"


def beat(*, operator_id: int, channel: str, node: str | None = None, now: float | None = None) -> bool:
    """This console socket is alive; False when Redis could not be reached (the next beat retries)."""
    now = time.time() if now is None else now
    try:
        pipe = client().pipeline(transaction=False)
        pipe.zadd(KEY, {member(operator_id=operator_id, node=node or node_name(), channel=channel): now})
        pipe.set(SINCE_KEY, now, nx=True)
        pipe.execute()
    except OUTAGE:
        log.warning("console presence not refreshed: Redis unreachable", exc_info=False)
        return False
    return True


def leave(*, operator_id: int, channel: str, node: str | None = None) -> bool:
    """This console socket closed; True when no other console of the operator is alive."""
    try:
        client().zrem(KEY, member(operator_id=operator_id, node=node or node_name(), channel=channel))
    except OUTAGE:
        log.warning("console presence not removed: Redis unreachable; the sweep will see it go")
        return False
    return operator_id not in live_operators()


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
    except OUTAGE:
        log.warning("console presence not swept: Redis unreachable")
        return []
    wrap_up_since = datetime.fromtimestamp(now - WRAP_UP_GRACE_SECONDS, tz=UTC)
    gone = OperatorProfile.objects.exclude(pk__in=live).filter(state__in=[S.AVAILABLE, S.RESERVED, S.BREAK])
    stale_wrap_up = OperatorProfile.objects.exclude(pk__in=live).filter(
        state=S.WRAP_UP, state_since__lte=wrap_up_since
    )
    offline = []
    for profile_id in [*gone.values_list("pk", flat=True), *stale_wrap_up.values_list("pk", flat=True)]:
        try:
            profile_set_state(profile_id=profile_id, state=S.OFFLINE, reason="no console")
        except InvalidTransition:
            continue  # their state moved meanwhile (an accepted call): the next sweep looks again
        offline.append(profile_id)
    if offline:
        log.warning("operators set offline, no live console for %.0f s: %s", PRESENCE_SECONDS, offline)
    return offline
