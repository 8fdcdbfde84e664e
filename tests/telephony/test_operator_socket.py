"""The operator console socket on a real ASGI server: offers pushed, accepted; nobody else's (R15, R16)."""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from websockets.exceptions import ConnectionClosed, InvalidStatus

from accounts.models import Role
from telephony import console_presence, routing
from telephony.models import OperatorProfile, Reservation, WaitingCall
from telephony.pushes import operator_group
from tests.conftest import logged_in, make_user, run_async
from tests.sockets import open_socket, receive_json
from tests.telephony.helpers import make_operator, make_queue, sid

pytestmark = pytest.mark.slow


def session_of(tenant, user) -> str:
    return logged_in(tenant, user).cookies["sessionid"].value


def console(server, profile):
    return open_socket(server.port, settings.PLATFORM_HOST, "/ws/operator/", session_of(None, profile.user))


def until(ws, kind: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        message = receive_json(ws, timeout=max(0.1, deadline - time.monotonic()))
        if message["type"] == kind:
            return message


def eventually(check, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return result


def test_an_operator_gets_the_offer_pushed_and_accepts_it(committed, tenants, asgi_server):
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1}, state="offline")
    with console(asgi_server, operator) as ws:
        assert receive_json(ws) == {"type": "state", "state": "offline", "reason": ""}
        ws.send('{"type": "set_state", "state": "available"}')
        assert until(ws, "state")["state"] == "available"
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid())
        offer = until(ws, "offer")
        assert (offer["tenant"], offer["queue"], offer["call_sid"]) == (
            tenants.alpha.name,
            queue.name,
            call.call_sid,
        )
        ws.send(f'{{"type": "accept", "reservation": {offer["reservation"]}}}')
        assert until(ws, "accepted")["call_sid"] == call.call_sid
    call.refresh_from_db()
    assert call.state == "bridged" and call.operator_id == operator.pk


def test_a_reconnecting_console_gets_its_ringing_offer_again(committed, tenants, asgi_server):
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1})
    call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid())
    with console(asgi_server, operator) as ws:
        assert receive_json(ws)["state"] == "reserved"
        assert receive_json(ws)["call_sid"] == call.call_sid


def refused(port: int, host: str, session: str | None) -> bool:
    """Refused at the handshake or closed before anything is sent."""
    try:
        with open_socket(port, host, "/ws/operator/", session) as ws:
            ws.recv(timeout=10)
    except (InvalidStatus, ConnectionClosed):
        return True
    return False


def test_only_operators_on_the_platform_host_may_open_a_console(committed, tenants, asgi_server):
    port = asgi_server.port
    client_admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    supervisor = make_user(None, role=Role.SUPERVISOR)
    operator = make_operator({})
    assert refused(port, tenants.alpha.host, session_of(tenants.alpha, client_admin))
    assert refused(port, settings.PLATFORM_HOST, session_of(tenants.alpha, client_admin))
    assert refused(port, settings.PLATFORM_HOST, session_of(None, supervisor))
    assert refused(port, settings.PLATFORM_HOST, None)
    assert refused(
        port, tenants.alpha.host, session_of(None, operator.user)
    )  # a platform session, tenant host


def test_an_operator_never_sees_or_takes_another_operators_offer(committed, tenants, asgi_server):
    queue = make_queue(tenants.beta)
    other_queue = make_queue(tenants.alpha)
    skilled = make_operator({queue: 1})
    bystander = make_operator({other_queue: 1})
    with console(asgi_server, skilled) as ws_skilled, console(asgi_server, bystander) as ws_other:
        receive_json(ws_skilled), receive_json(ws_other)
        routing.enqueue(tenant=tenants.beta, queue=queue, call_sid=sid())
        offer = until(ws_skilled, "offer")
        ws_other.send(f'{{"type": "accept", "reservation": {offer["reservation"]}}}')
        error = receive_json(ws_other)  # its own error: never the offer
        assert error["type"] == "error" and error["request"] == "accept"
    assert Reservation.objects.get(pk=offer["reservation"]).operator_id == skilled.pk


def test_closing_the_last_console_sets_offline_and_reroutes_the_offer(committed, tenants, asgi_server):
    """Was flaky (issue 22): the console closed while the offer's pushes were still arriving, a push
    to the closed socket crashed the consumer before its disconnect handler, and the leaked console
    count kept the operator available. Now a push never crashes the consumer, presence is a
    heartbeat, and ``other`` (who has a console of their own) is available from the start."""
    queue = make_queue(tenants.alpha)
    dropping = make_operator({queue: 1}, idle=0)
    other = make_operator({queue: 1}, idle=10, state="break")
    with console(asgi_server, other) as ws_other:
        assert receive_json(ws_other)["state"] == "break"
        with console(asgi_server, dropping) as ws:
            receive_json(ws)
            call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid())
            until(ws, "offer")
            ws_other.send('{"type": "set_state", "state": "available"}')
            assert until(ws_other, "state")["state"] == "available"
        eventually(lambda: OperatorProfile.objects.get(pk=dropping.pk).state == "offline")
        assert until(ws_other, "offer")["call_sid"] == call.call_sid
        # Checked while ``other``'s console is open: closing it takes them offline and cancels
        # the offer (the race that made this fail now and then).
        assert Reservation.objects.get(call=call, state="offered").operator_id == other.pk
        assert WaitingCall.objects.get(pk=call.pk).reservation_count == 2


def test_a_console_that_vanished_without_a_goodbye_is_swept_offline(committed, tenants, asgi_server):
    """No disconnect handler ran (a crashed web process): the console stops beating, the sweep acts."""
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1})
    with console(asgi_server, operator) as ws:
        receive_json(ws)
        eventually(lambda: operator.pk in console_presence.live_operators())
        # A second console on a node that then crashed: it never says goodbye.
        console_presence.beat(operator_id=operator.pk, channel="ghost", node="crashed-node")
    time.sleep(0.5)  # the closed socket's goodbye: not the last console, so the operator stays
    assert OperatorProfile.objects.get(pk=operator.pk).state == "available"
    later = time.time() + console_presence.PRESENCE_SECONDS + 1
    console_presence.client().set(console_presence.SINCE_KEY, 0)
    assert operator.pk in console_presence.sweep(now=later)
    assert OperatorProfile.objects.get(pk=operator.pk).state == "offline"


def test_a_console_whose_routing_profile_was_removed_opens_again_with_a_new_one(
    committed, tenants, asgi_server
):
    """A state asked for goes to the profile the socket opened with; one removed meanwhile (an
    admin's clean-up) closes the socket, and the console's reconnect makes the operator a new one."""
    operator = make_operator({}, state="offline")
    user = operator.user
    with console(asgi_server, operator) as ws:
        assert receive_json(ws)["type"] == "state"
        OperatorProfile.objects.filter(pk=operator.pk).delete()
        ws.send('{"type": "set_state", "state": "available"}')
        with pytest.raises(ConnectionClosed) as closed:
            receive_json(ws)
        assert closed.value.rcvd.code == 4409
    with console(asgi_server, OperatorProfile(user=user)) as ws:
        assert receive_json(ws) == {"type": "state", "state": "offline", "reason": ""}
        ws.send('{"type": "set_state", "state": "available"}')
        assert until(ws, "state")["state"] == "available"
    assert OperatorProfile.objects.get(user=user).pk != operator.pk


def test_only_operators_have_a_routing_profile(db, tenants):
    """(Also makes pytest-django create the test database when this module runs alone.)"""
    from telephony.operators import profile_for

    with pytest.raises(PermissionError):
        profile_for(make_user(None, role=Role.SUPERVISOR))


def test_an_offer_comes_in_the_push_of_the_operators_new_state(committed, tenants):
    """The router's offer and the operator's state (reserved) reach the console's socket as one
    event of the channel layer, in that order: one publish to Redis, one delivery, not two."""
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1})  # available
    layer = get_channel_layer()

    async def pushed() -> tuple[WaitingCall, dict]:
        channel = await layer.new_channel()
        await layer.group_add(operator_group(operator.user_id), channel)
        call = await sync_to_async(routing.enqueue)(tenant=tenants.alpha, queue=queue, call_sid=sid())
        event = await asyncio.wait_for(layer.receive(channel), 10)
        return call, event

    call, event = run_async(pushed())
    state, offer = event["messages"]
    assert state == {"type": "state", "state": "reserved", "reason": ""}
    assert (offer["type"], offer["call_sid"]) == ("offer", call.call_sid)
    assert offer["reservation"] == Reservation.objects.get(call=call).pk
