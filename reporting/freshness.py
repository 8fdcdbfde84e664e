"""Which companies had calls since their statistics were last built (issue 23).

The statistics dispatcher runs every 15 minutes; building every company's statistics each time
was a thousand tasks for a thousand companies, most with nothing new. Each change to a company's
call records marks the company in one Redis set (after the change commits); the dispatcher takes
the set (atomically) and builds only those. Redis with ``noeviction``, as for the broker: a mark
is lost only with Redis itself, and the company's next call marks it again (its build covers
yesterday and today).
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.db import connection, transaction

from config.single_flight import broker

log = logging.getLogger(__name__)
CHANGED_KEY = "cc:statistics:changed"


def mark_changed(schema_name: str) -> None:
    """The company's calls changed: its statistics are built at the next dispatch."""
    try:
        broker().sadd(CHANGED_KEY, schema_name)
    except redis.RedisError:
        log.warning("could not mark %s's statistics as stale", schema_name)


def take_changed() -> set[str]:
    """The companies marked since the last take, unmarked in the same step (SPOP: a mark made
    meanwhile is either taken now or kept for the next take, never lost)."""
    client = broker()
    taken: set[str] = set()
    while batch := client.spop(CHANGED_KEY, 1000):
        taken |= {name.decode() for name in batch}
    return taken


def on_call_saved(sender: type, instance: Any, **kwargs: Any) -> None:
    """``post_save`` of a call record (connected in ``ReportingConfig.ready``): marked on commit."""
    if kwargs.get("raw") or connection.schema_name == "public":
        return
    schema = connection.schema_name
    transaction.on_commit(lambda: mark_changed(schema))


def on_call_completed(*, tenant: Any = None, **kwargs: Any) -> None:
    """``telephony.events.call_completed`` (after commit, in the company's schema)."""
    if tenant is not None:
        mark_changed(tenant.schema_name)
