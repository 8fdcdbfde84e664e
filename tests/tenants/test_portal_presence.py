"""Who is online in a client company's portal: a list read from Redis, sent on every change and
every beat, never a company's to another (issue 23: a push lost in an outage is put right)."""

from __future__ import annotations

import uuid

from accounts.models import Role
from tenants import portal_presence
from tests.conftest import logged_in, make_user, run_async
from tests.sockets import open_socket, receive_json

TAG = uuid.uuid4().hex[:6]  # this run's people: other tests' portal pages may be open meanwhile


def _session(tenant, first_name: str) -> str:
    user = make_user(tenant, role=Role.CLIENT_ADMIN, first_name=first_name, last_name=TAG)
    return logged_in(tenant, user).cookies["sessionid"].value


def _ours(names: list[str]) -> list[str]:
    return [name for name in names if name.endswith(f" {TAG}")]


def _until_online(ws, names: list[str]) -> dict:
    """The first ``online`` list whose people of this run are ``names`` (earlier ones may still be
    on their way)."""
    while True:
        message = receive_json(ws)
        if message["type"] == "online" and _ours(message["users"]) == names:
            return message


def test_a_page_opened_later_sees_who_was_there_and_each_company_only_its_own(
    committed, tenants, asgi_server
):
    anna, boris, carla = (
        _session(tenants.alpha, "Anna"),
        _session(tenants.alpha, "Boris"),
        _session(tenants.beta, "Carla"),
    )
    a, b, c = f"Anna {TAG}", f"Boris {TAG}", f"Carla {TAG}"
    with open_socket(asgi_server.port, tenants.alpha.host, "/ws/portal/", anna) as first:
        assert _ours(receive_json(first)["online"]) == [a]
        with open_socket(asgi_server.port, tenants.alpha.host, "/ws/portal/", boris) as second:
            assert _ours(receive_json(second)["online"]) == [a, b]  # who was there
            _until_online(first, [a, b])  # and Anna is told
            with open_socket(asgi_server.port, tenants.beta.host, "/ws/portal/", carla) as other:
                assert _ours(receive_json(other)["online"]) == [c]  # another company's list
            _until_online(second, [a, b])  # Carla's coming and going changed nothing
        _until_online(first, [a])  # Boris left


def test_a_socket_that_stopped_beating_is_no_longer_online_and_redis_away_keeps_the_list(settings):
    async def scenario() -> None:
        schema, other = f"t_{uuid.uuid4().hex[:8]}", f"t_{uuid.uuid4().hex[:8]}"
        now = 1_000_000.0
        assert await portal_presence.present(schema=schema, name="Anna", channel="a1", now=now) == ["Anna"]
        # Two tabs of Boris: one closed, he is still online; his other tab's web process died.
        await portal_presence.present(schema=schema, name="Boris", channel="b1", now=now + 1)
        await portal_presence.present(schema=schema, name="Boris", channel="b2", now=now + 2)
        await portal_presence.gone(schema=schema, name="Boris", channel="b1")
        assert await portal_presence.online(schema=schema, now=now + 3) == ["Anna", "Boris"]
        later = now + 2 + portal_presence.ALIVE_SECONDS + 1  # Anna beat since, Boris's b2 never did
        await portal_presence.present(schema=schema, name="Anna", channel="a1", now=later - 5)
        assert await portal_presence.online(schema=schema, now=later) == ["Anna"]
        assert await portal_presence.online(schema=other, now=later) == []

    run_async(scenario())
    settings.CONSOLE_PRESENCE_REDIS_URL = "redis://127.0.0.1:1/0"  # nobody listens there

    async def away() -> None:
        assert await portal_presence.present(schema="t_x", name="Anna", channel="a1") is None
        assert await portal_presence.online(schema="t_x") is None
        await portal_presence.gone(schema="t_x", name="Anna", channel="a1")  # does not raise

    run_async(away())
