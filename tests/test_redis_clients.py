"""The process's Redis clients (config/redis_clients.py): one per server, however many threads ask."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import redis
import redis.asyncio

from config import redis_clients
from tests.conftest import run_async


def test_threads_asking_at_once_share_one_client(monkeypatch):
    built = []
    real = redis.Redis.from_url

    def slow_from_url(url, **kwargs):
        time.sleep(0.05)  # long enough for every thread to arrive while the first one builds
        built.append(real(url, **kwargs))
        return built[-1]

    monkeypatch.setattr(redis.Redis, "from_url", slow_from_url)
    url = f"redis://127.0.0.1:1/{uuid.uuid4().int % 16}?client_name=t{uuid.uuid4().hex}"  # never built before
    start = threading.Barrier(8)
    got = []

    def ask():
        start.wait()
        got.append(redis_clients.shared(url))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(built) == 1
    assert all(client is built[0] for client in got)


def test_each_server_and_timeout_has_its_own_client():
    url = f"redis://127.0.0.1:1/0?client_name=t{uuid.uuid4().hex}"
    assert redis_clients.shared(url) is redis_clients.shared(url)
    assert redis_clients.shared(url, timeout=1) is not redis_clients.shared(url)
    short = redis_clients.shared(url, timeout=1).connection_pool.connection_kwargs
    assert short["socket_timeout"] == 1 and short["socket_connect_timeout"] == 1


def test_an_event_loop_has_its_own_client_with_a_bounded_pool(settings):
    """``shared_async``: one client per loop (an asyncio client cannot serve another loop), whose
    connections are bounded: a stalled Redis does not open one per socket waiting on it."""
    url = settings.CONSOLE_PRESENCE_REDIS_URL

    async def client_of_one_loop() -> redis.asyncio.Redis:
        client = redis_clients.shared_async(url)
        assert redis_clients.shared_async(url) is client
        # More at once than the pool holds: they wait their turn, none fails.
        assert all(await asyncio.gather(*(client.ping() for _ in range(redis_clients.LOOP_CONNECTIONS * 4))))
        return client

    first, other = run_async(client_of_one_loop()), run_async(client_of_one_loop())
    assert other is not first
    assert first.connection_pool.max_connections == redis_clients.LOOP_CONNECTIONS
    assert first.connection_pool.connection_kwargs["socket_timeout"] == 2.0
