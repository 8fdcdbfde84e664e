"""What the router tells an operator's console, sent after the write commits (at most once).

The console re-reads its state from the database on connect: a lost push only delays it.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


def operator_group(user_id: int) -> str:
    """The group of one operator's sockets (platform staff live in the public schema)."""
    return f"operator.{user_id}"


def push_on_commit(*, user_id: int, message: dict[str, Any]) -> None:
    """Send ``message`` to the operator's sockets once the current transaction commits."""
    transaction.on_commit(lambda: send_now(user_id=user_id, message=message))


def send_now(*, user_id: int, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            operator_group(user_id), {"type": "operator.push", "message": message}
        )
    except Exception:  # the layer is at-most-once anyway; the console re-reads on reconnect
        log.warning("push to operator %s failed", user_id, exc_info=True)
