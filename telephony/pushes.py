"""What the router tells an operator's console, sent after the write commits (at most once).

The console re-reads its state from the database on connect: a lost push only delays it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from typing import Any

from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


def operator_group(user_id: int) -> str:
    """The group of one operator's sockets (platform staff live in the public schema)."""
    return f"operator.{user_id}"


Messages = dict[str, Any] | list[dict[str, Any]]  # one console message, or several in order


def push_on_commit(*, user_id: int, message: Messages) -> None:
    """Send ``message`` (several: in order, in one push) to the operator's sockets once the current
    transaction commits."""
    transaction.on_commit(lambda: send_now(user_id=user_id, message=message))


_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    """One event loop per process for pushes: the layer keeps its Redis connections on it.

    ``async_to_sync`` would open a loop (and a connection) per push, ~15 ms each; here a push
    is handed over in microseconds and the router never waits for Redis.
    """
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, daemon=True, name="operator-pushes").start()
            _loop = loop
    return _loop


def _log_failure(future: concurrent.futures.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("a push to an operator console failed: %s", future.exception())


def send_now(*, user_id: int, message: Messages) -> concurrent.futures.Future | None:
    """Hand the push to the background loop (fire and forget: the layer is at-most-once anyway).
    Several messages go in one event of the channel layer (``messages``): one publish to Redis and
    one delivery to each socket's process, the console receiving each message in order."""
    layer = get_channel_layer()
    if layer is None:
        return None
    key = "messages" if isinstance(message, list) else "message"
    event = {"type": "operator.push", key: message}
    future = asyncio.run_coroutine_threadsafe(
        layer.group_send(operator_group(user_id), event), _background_loop()
    )
    future.add_done_callback(_log_failure)
    return future
