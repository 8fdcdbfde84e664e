"""The console socket on a real server: a reload on a call keeps the call; other people get no console."""

from __future__ import annotations

import pytest
from django.conf import settings
from websockets.exceptions import InvalidStatus

from accounts.models import Role
from console import consumers
from telephony import routing
from telephony.models import Reservation
from tests.conftest import logged_in, make_user
from tests.sockets import open_socket
from tests.telephony.helpers import make_operator, make_queue, sid


def test_closing_the_last_console_on_a_call_keeps_the_call_for_the_reload(
    db, tenants, django_capture_on_commit_callbacks
):
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1})
    with django_capture_on_commit_callbacks(execute=True):
        routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid())
    reservation = Reservation.objects.get(operator=operator, state="offered")
    with django_capture_on_commit_callbacks(execute=True):
        routing.accept(reservation_id=reservation.pk, operator=operator.user)
    consumers._close(operator.user.pk)
    operator.refresh_from_db()
    assert operator.state == "on_call"
    assert Reservation.objects.get(pk=reservation.pk).state == "accepted"
    state = logged_in(None, operator.user).get("/console/state").json()
    assert (state["phase"], state["reservation"]) == ("call", reservation.pk)


@pytest.mark.slow
def test_a_supervisor_or_client_user_gets_no_console_socket(committed, tenants, asgi_server):
    supervisor = make_user(None, role=Role.SUPERVISOR)
    session = logged_in(None, supervisor).cookies["sessionid"].value
    with pytest.raises(InvalidStatus, match="403"):
        open_socket(asgi_server.port, settings.PLATFORM_HOST, "/ws/operator/", session)
    client_admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    session = logged_in(tenants.alpha, client_admin).cookies["sessionid"].value
    with pytest.raises(InvalidStatus, match="403"):
        open_socket(asgi_server.port, tenants.alpha.host, "/ws/operator/", session)
