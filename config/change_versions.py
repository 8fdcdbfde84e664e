"""Versions of what every process keeps a copy of: a counter in Redis per key, bumped by each change
as it commits; a process compares its copy's version with it (``config.process_cache``'s
``version``) and reads the data again when they differ, so a change made in one process is seen by
the others at once rather than when their copy expires.

With Redis away the version is ``UNKNOWN`` (the copy is read again, or kept only briefly) and a
bump is lost: copies are kept a bounded time besides.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import transaction

from config import redis_clients
from config.process_cache import UNKNOWN

log = logging.getLogger(__name__)


def _redis() -> redis.Redis:
    return redis_clients.shared(settings.CACHES["default"]["LOCATION"])


def current(key: str) -> Hashable:
    """``key``'s version now (None before its first change), ``UNKNOWN`` with Redis away."""
    try:
        return _redis().get(key)
    except redis_clients.UNREACHABLE:
        return UNKNOWN


def bump(key: str) -> bool:
    """A change of ``key``'s data committed: every process reads it again. False with Redis away
    (the others see the change when their copy expires)."""
    try:
        _redis().incr(key)
    except redis_clients.UNREACHABLE:
        log.warning("%s changed; Redis is away: other processes see it when their copy expires", key)
        return False
    return True


def bump_on_commit(key: str) -> None:
    """``bump`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: bump(key))


@dataclass(frozen=True)
class PerSchema:
    """One version per company schema, under ``prefix``: for what each process keeps of a company
    (its call setup, what its webhook endpoints listen to)."""

    prefix: str

    def key(self, schema: str) -> str:
        return f"{self.prefix}:{schema}"

    def current(self, schema: str) -> Hashable:
        """``current`` of ``schema``'s version."""
        return current(self.key(schema))

    def bump(self, schema: str) -> bool:
        """``bump`` of ``schema``'s version."""
        return bump(self.key(schema))

    def bump_on_commit(self, schema: str) -> None:
        """``bump_on_commit`` of ``schema``'s version."""
        bump_on_commit(self.key(schema))
