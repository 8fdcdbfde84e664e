"""The channel layer's Redis restarts while consoles are connected (issue 23): on Redis
publish/subscribe their sockets stay open and a push published meanwhile is lost, so each console
is sent ``resync`` and what it must show now, a ringing offer included, once Redis is back."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import redis as redis_client

from bench.soak import OwnRedis, _free_port, _wait_port
from telephony import routing
from telephony.models import Reservation
from tests.conftest import ROOT, child_env, logged_in
from tests.sockets import open_socket, receive_json
from tests.telephony.helpers import make_operator, make_queue, sid

pytestmark = pytest.mark.slow


def test_a_console_is_told_everything_again_when_the_layers_redis_comes_back(committed, tenants):
    from django.conf import settings

    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1})
    redis, port = OwnRedis(), _free_port()
    redis.start()
    web = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(port),
         "--host", "127.0.0.1", "--no-access-log", "--lifespan", "off"],
        env={**child_env(), "REDIS_URL": redis.url, "REDIS_DB_BASE": "0"}, cwd=ROOT,
    )  # fmt: skip
    try:
        assert _wait_port(port, 60)
        session = logged_in(None, operator.user).cookies["sessionid"].value
        with open_socket(port, settings.PLATFORM_HOST, "/ws/operator/", session) as ws:
            assert receive_json(ws)["state"] == "available"
            # The web process's floor knows its Redis once it has sent itself a canary.
            own = redis_client.Redis.from_url(redis.url)
            deadline = time.monotonic() + 20
            while "cmdstat_publish" not in own.info("commandstats"):
                assert time.monotonic() < deadline, "the floor sent no canary"
                time.sleep(0.05)
            own.close()
            redis.stop()
            # Routed while the web process's Redis is away: its push reaches nobody.
            call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid())
            offer = Reservation.objects.get(call__call_sid=call.call_sid, state="offered")
            redis.start()
            messages = [receive_json(ws, timeout=20)]
            while messages[-1]["type"] != "offer":
                messages.append(receive_json(ws, timeout=20))
        kinds = [m["type"] for m in messages]
        assert kinds[-3:] == ["resync", "state", "offer"], messages
        assert messages[-2]["state"] == "reserved"
        assert messages[-1]["reservation"] == offer.pk
    finally:
        web.terminate()
        web.wait(timeout=15)
        redis.stop()
