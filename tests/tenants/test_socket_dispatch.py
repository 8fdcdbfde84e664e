"""A socket's message goes straight to its handler (``tenants.sockets.InTenantOnly``): an offer
pushed to a console is not queued behind the database work of every other socket of the process."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import sync_to_async
from channels.consumer import AsyncConsumer

from console.consumers import OperatorConsumer
from console.wallboard_consumer import WallboardConsumer
from tenants.consumers import PortalConsumer
from tenants.sockets import InTenantOnly


class Probe(InTenantOnly, AsyncConsumer):
    def __init__(self) -> None:
        super().__init__()
        self.handled: list[dict] = []

    async def operator_push(self, message: dict) -> None:
        self.handled.append(message)


async def _while_the_database_thread_is_busy(
    consumer: AsyncConsumer, message: dict, within: float = 2
) -> None:
    """Dispatch ``message`` while the one thread that runs the consumers' database work (Channels'
    and asgiref's thread-sensitive thread) is held by another socket's query."""
    release = threading.Event()
    busy = asyncio.ensure_future(sync_to_async(release.wait)())
    try:
        await asyncio.sleep(0.05)
        await asyncio.wait_for(consumer.dispatch(message), within)
    finally:
        release.set()
        await busy


def run(coroutine) -> None:
    """In a thread of its own: a browser test before may have left this one's event loop running."""
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, coroutine).result()


def test_a_push_is_handled_while_the_database_thread_is_busy():
    probe = Probe()
    run(_while_the_database_thread_is_busy(probe, {"type": "operator.push", "message": {}}))
    assert probe.handled == [{"type": "operator.push", "message": {}}]


def test_channels_own_dispatch_would_wait_for_that_thread():
    """What the mixin is for: without it the same push waits (here: past the half second allowed)."""

    class Plain(AsyncConsumer):
        async def operator_push(self, message: dict) -> None:
            pass

    with pytest.raises(TimeoutError):
        run(_while_the_database_thread_is_busy(Plain(), {"type": "operator.push", "message": {}}, within=0.5))


def test_a_message_without_a_handler_is_refused():
    with pytest.raises(ValueError, match=r"No handler for message type nobody\.home"):
        run(Probe().dispatch({"type": "nobody.home"}))


@pytest.mark.parametrize("consumer", [OperatorConsumer, WallboardConsumer, PortalConsumer])
def test_every_socket_of_the_platform_dispatches_so(consumer):
    assert consumer.dispatch is InTenantOnly.dispatch
