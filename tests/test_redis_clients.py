"""The process's Redis clients (config/redis_clients.py): one per server, however many threads ask."""

from __future__ import annotations

import threading
import time
import uuid

import redis

from config import redis_clients


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
