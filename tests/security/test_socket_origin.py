"""A WebSocket opens only from a page of its own origin: scheme, host and port all equal."""

from __future__ import annotations

import pytest
from django.conf import settings
from websockets.exceptions import InvalidStatus

from accounts.models import Role
from tests.conftest import logged_in, make_user
from tests.sockets import open_socket, receive_json


def test_a_supervisors_wallboard_socket_opens_only_from_the_platforms_own_origin(
    committed, tenants, asgi_server
):
    supervisor = make_user(None, role=Role.SUPERVISOR)
    session = logged_in(None, supervisor).cookies["sessionid"].value
    port, host = asgi_server.port, settings.PLATFORM_HOST
    with open_socket(port, host, "/ws/wallboard/", session) as ws:  # its own page
        assert receive_json(ws)["type"] == "snapshot"
    for foreign in [
        f"http://{tenants.alpha.host}:{port}",  # a sibling subdomain: a client company's page
        tenants.alpha.host,  # the same, as the issue sent it (no scheme)
        f"http://{host}:{port + 1}",  # another port
        f"https://{host}:{port}",  # another scheme
        f"http://evil-{host}:{port}",
        "null",
        "",  # no Origin at all
    ]:
        with pytest.raises(InvalidStatus, match="403"):
            open_socket(port, host, "/ws/wallboard/", session, origin=foreign)


def test_a_portal_socket_refuses_another_companys_origin(committed, tenants, asgi_server):
    admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    session = logged_in(tenants.alpha, admin).cookies["sessionid"].value
    port = asgi_server.port
    with open_socket(port, tenants.alpha.host, "/ws/portal/", session) as ws:
        assert receive_json(ws)["type"] == "hello"
    for foreign in [f"http://{tenants.beta.host}:{port}", f"http://{settings.PLATFORM_HOST}:{port}"]:
        with pytest.raises(InvalidStatus, match="403"):
            open_socket(port, tenants.alpha.host, "/ws/portal/", session, origin=foreign)
