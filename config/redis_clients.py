"""One Redis client per process for each Redis URL the platform's own code talks to directly.

Django's cache and Celery keep their own clients; the presence of consoles, the single-flight
locks, the REST API's rate limits, the early status callbacks and the health check share these.
A client is thread-safe (it keeps a pool of connections), so one per URL and timeout is enough; it
is built under a lock, because two threads asking at once would otherwise build two.
"""

from __future__ import annotations

import asyncio
import threading

import redis
import redis.asyncio

# What a client raises when Redis cannot be reached in time (an outage, not a bug): callers
# degrade on it rather than fail.
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)

_clients: dict[tuple[str, float], redis.Redis] = {}
_lock = threading.Lock()
# Per event loop, for the life of the process (a client's connections refer to their loop, so the
# entry would keep it alive anyway); a web process runs one loop, a test a few.
_loop_clients: dict[asyncio.AbstractEventLoop, dict[tuple[str, float], redis.asyncio.Redis]] = {}
# Connections of one loop's client: a Redis that stalls leaves every socket's beat in flight at
# once, and an unbounded pool would keep a connection open for each (hundreds per web process).
LOOP_CONNECTIONS = 16


def shared(url: str, *, timeout: float = 2.0) -> redis.Redis:
    """The process's client of ``url`` with ``timeout`` seconds to connect and to answer (short:
    a caller degrades when Redis is away, it never hangs)."""
    with _lock:
        client = _clients.get((url, timeout))
        if client is None:
            client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
            _clients[(url, timeout)] = client
        return client


def shared_async(url: str, *, timeout: float = 2.0) -> redis.asyncio.Redis:
    """``shared`` for code running on an event loop (a console's socket): the running loop's client
    of ``url``, used without a thread hand-off. An asyncio client belongs to the loop that made it,
    so each loop has its own (a web process runs one)."""
    clients = _loop_clients.setdefault(asyncio.get_running_loop(), {})
    client = clients.get((url, timeout))
    if client is None:
        # At most LOOP_CONNECTIONS, waited for up to ``timeout``: past it, a ConnectionError (Redis away).
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            url, max_connections=LOOP_CONNECTIONS, timeout=timeout,
            socket_timeout=timeout, socket_connect_timeout=timeout,
        )  # fmt: skip
        client = redis.asyncio.Redis(connection_pool=pool)
        clients[(url, timeout)] = client
    return client
