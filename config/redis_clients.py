"""One Redis client per process for each Redis URL the platform's own code talks to directly.

Django's cache and Celery keep their own clients; the presence of consoles, the single-flight
locks, the REST API's rate limits, the early status callbacks and the health check share these.
A client is thread-safe (it keeps a pool of connections), so one per URL and timeout is enough; it
is built under a lock, because two threads asking at once would otherwise build two.
"""

from __future__ import annotations

import threading

import redis

_clients: dict[tuple[str, float], redis.Redis] = {}
_lock = threading.Lock()


def shared(url: str, *, timeout: float = 2.0) -> redis.Redis:
    """The process's client of ``url`` with ``timeout`` seconds to connect and to answer (short:
    a caller degrades when Redis is away, it never hangs)."""
    with _lock:
        client = _clients.get((url, timeout))
        if client is None:
            client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
            _clients[(url, timeout)] = client
        return client
