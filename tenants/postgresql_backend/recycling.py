"""Which schemas each server connection has served, and the log filter for the ones retired.

Kept apart from ``base`` (which needs the app registry) so logging can be configured with the filter
before Django's apps are loaded.
"""

from __future__ import annotations

import logging
import weakref

# Raw (psycopg) connection → the schemas it has served. Weak: forgotten with the connection.
served: weakref.WeakKeyDictionary[object, set[str]] = weakref.WeakKeyDictionary()
# Connections closed here on purpose: the pool's "discarding closed connection" about them is noise.
retired: weakref.WeakSet[object] = weakref.WeakSet()


def schemas_served(raw_connection: object) -> int:
    """How many schemas this server connection has served so far."""
    return len(served.get(raw_connection, ()))


class RecycledConnectionFilter(logging.Filter):
    """Drops psycopg_pool's warning about a closed connection handed back when it was closed here."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("discarding closed connection") and record.args:
            return record.args[0] not in retired
        return True
