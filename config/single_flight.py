"""One run at a time across every worker: periodic ticks never overlap (issue 23).

A tick that outlasts its period must not be joined by the next one (they would fight for the same
rows and pile up behind each other). ``single_flight`` takes a Redis lock that expires by itself
(a worker killed mid-run holds it ``timeout`` seconds at most) and skips the run when another holds
it; the lock is released only by its holder (redis-py's ``Lock`` checks its token).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import redis
from django.conf import settings

from config import redis_clients

log = logging.getLogger(__name__)


def broker() -> redis.Redis:
    """The process's client of the broker's Redis (short timeouts: callers degrade, never hang)."""
    return redis_clients.shared(settings.CELERY_BROKER_URL)


@contextlib.contextmanager
def single_flight(name: str, *, timeout: float) -> Iterator[bool]:
    """``with single_flight("dial-tick", timeout=30) as mine:`` — ``mine`` is False when another run
    holds the lock (then do nothing). Redis unreachable: the run goes ahead (the work it does is
    safe to run concurrently, only wasteful)."""
    lock = broker().lock(f"cc:single-flight:{name}", timeout=timeout, blocking=False)
    try:
        mine = lock.acquire()
    except redis.RedisError:
        log.warning("single-flight lock %s unavailable: running anyway", name)
        yield True
        return
    try:
        yield mine
    finally:
        if mine:
            with contextlib.suppress(redis.RedisError):  # expired meanwhile, or Redis gone: it expires
                lock.release()
