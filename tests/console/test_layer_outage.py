"""The channel layer's Redis restarts while consoles are connected (issue 23): on Redis
publish/subscribe their sockets stay open and a push published meanwhile is lost, so each console
is sent ``resync`` and what it must show now, a ringing offer included, once Redis is back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis as redis_client
from django.conf import settings

from bench.soak import OwnRedis, _free_port, _wait_port
from telephony import routing
from telephony.models import Reservation
from tests.conftest import PASSWORD, ROOT, child_env, logged_in
from tests.sockets import open_socket, receive_json
from tests.telephony.helpers import make_operator, make_queue, sid

pytestmark = pytest.mark.slow
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop


@dataclass
class Web:
    """A web process of its own, on a Redis of its own (the shared one is never restarted)."""

    port: int
    redis: OwnRedis

    def url(self, path: str) -> str:
        return f"http://{settings.PLATFORM_HOST}:{self.port}{path}"

    def restart_redis_while(self, routed) -> None:
        """Once the web process's floor knows its Redis (it has sent itself a canary), Redis is
        stopped, ``routed()`` runs, and Redis starts again. The push ``routed()`` makes reaches no
        console (this process's layer is on the shared Redis), as one published while the web
        process's subscription is down: only the floor's resync can show the offer."""
        own = redis_client.Redis.from_url(self.redis.url)
        deadline = time.monotonic() + 20
        while "cmdstat_publish" not in own.info("commandstats"):
            assert time.monotonic() < deadline, "the floor sent no canary"
            time.sleep(0.05)
        own.close()
        self.redis.stop()
        routed()
        self.redis.start()


@pytest.fixture
def web() -> Iterator[Web]:
    redis, port = OwnRedis(), _free_port()
    redis.start()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(port),
         "--host", "127.0.0.1", "--no-access-log", "--lifespan", "off"],
        env={**child_env(), "REDIS_URL": redis.url}, cwd=ROOT,
    )  # fmt: skip
    try:
        assert _wait_port(port, 60)
        yield Web(port=port, redis=redis)
    finally:
        process.terminate()
        process.wait(timeout=15)
        redis.stop()


def test_a_console_is_told_everything_again_when_the_layers_redis_comes_back(committed, tenants, web):
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1})
    session = logged_in(None, operator.user).cookies["sessionid"].value
    routed: list[Reservation] = []

    def route() -> None:
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid())
        routed.append(Reservation.objects.get(call__call_sid=call.call_sid, state="offered"))

    with open_socket(web.port, settings.PLATFORM_HOST, "/ws/operator/", session) as ws:
        assert receive_json(ws)["state"] == "available"
        web.restart_redis_while(route)
        messages = [receive_json(ws, timeout=20)]
        while messages[-1]["type"] != "offer":
            messages.append(receive_json(ws, timeout=20))
    assert [m["type"] for m in messages][-3:] == ["resync", "state", "offer"], messages
    assert messages[-2]["state"] == "reserved"
    assert messages[-1]["reservation"] == routed[0].pk


@pytest.mark.browser
def test_the_web_console_shows_the_offer_whose_push_was_lost(committed, tenants, web, page):
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1}, state="offline")
    page.goto(web.url("/login/"))
    page.get_by_label("Username").fill(operator.user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(web.url("/console/"))
    page.locator("#link", has_text="connected").wait_for()
    page.get_by_label("Change state").select_option("available")
    page.get_by_role("button", name="Set state").click()
    page.locator("#state", has_text="Available").wait_for()
    web.restart_redis_while(lambda: routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid()))
    page.locator("#pop-kind", has_text="Incoming call").wait_for(timeout=20_000)
    assert page.locator("#link").inner_text() == "connected"  # the socket never dropped
    assert page.locator("#accept").is_visible()


def test_a_console_that_missed_an_offer_is_sent_it_though_the_layer_never_went(committed, tenants, web):
    """A push lost with Redis up all along and no canary lost (a connection that dropped and came
    back between two canaries): the floor's comparison with the database finds the ringing offer
    the console was never sent, long before the offer's deadline."""
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1})
    session = logged_in(None, operator.user).cookies["sessionid"].value
    with open_socket(web.port, settings.PLATFORM_HOST, "/ws/operator/", session) as ws:
        assert receive_json(ws)["state"] == "available"
        # Pushed through the test's own Redis: this web process's consoles never hear of it.
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid())
        offer = Reservation.objects.get(call__call_sid=call.call_sid, state="offered")
        messages = [receive_json(ws, timeout=15)]
        while messages[-1]["type"] != "offer":
            messages.append(receive_json(ws, timeout=15))
    assert [m["type"] for m in messages] == ["resync", "state", "offer"], messages
    assert messages[-1]["reservation"] == offer.pk
    offer.refresh_from_db()
    assert offer.state == "offered"  # found while ringing, not at its deadline
