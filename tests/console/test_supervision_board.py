"""The wallboard's live calls (R21): in the snapshot pushed to supervisors only, with who is
monitoring each; no other company's staff or platform role reaches them (page, socket)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import timezone
from websockets.exceptions import InvalidStatus

from accounts.models import Role
from console import wallboard
from telephony.models import Monitoring, WaitingCall
from tests.conftest import logged_in, make_user
from tests.factories import WaitingCallFactory
from tests.sockets import open_socket, receive_json
from tests.telephony.helpers import make_operator, make_queue


def _live_call(queue, operator) -> WaitingCall:
    now = timezone.now()
    return WaitingCallFactory(queue=queue, state=WaitingCall.State.BRIDGED, operator=operator,
                              enqueued_at=now - timezone.timedelta(seconds=30),
                              answered_at=now - timezone.timedelta(seconds=12))  # fmt: skip


def test_the_snapshot_lists_calls_connected_now_with_their_supervisors(db, tenants):
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 1})
    live = _live_call(queue, operator)
    WaitingCallFactory(queue=queue)  # waiting: not a live call to monitor
    sue = make_user(None, role=Role.SUPERVISOR, first_name="Sue", last_name="Visor")
    Monitoring.objects.create(call=live, supervisor=sue, supervisor_name="Sue Visor", mode="whisper",
                              device="browser", started_at=timezone.now())  # fmt: skip
    calls = wallboard.snapshot()["calls"]
    (row,) = [c for c in calls if c["id"] == live.pk]
    assert (row["tenant"], row["queue"], row["talking"]) == ("Alpha Ltd", queue.name, 12)
    assert row["monitors"] == [{"supervisor": sue.pk, "name": "Sue Visor", "mode": "whisper"}]
    assert all(c["id"] == live.pk for c in calls if c["tenant"] == "Alpha Ltd")


@pytest.mark.slow
def test_only_platform_supervisors_get_the_live_calls_by_socket(committed, tenants, asgi_server):
    queue = make_queue(tenants.alpha)
    live = _live_call(queue, make_operator({queue: 1}))
    session = logged_in(None, make_user(None, role=Role.SUPERVISOR)).cookies["sessionid"].value
    with open_socket(asgi_server.port, settings.PLATFORM_HOST, "/ws/wallboard/", session) as ws:
        assert live.pk in [c["id"] for c in receive_json(ws)["calls"]]
    for tenant in (tenants.alpha, tenants.beta):
        staff = make_user(tenant, role=Role.CLIENT_ADMIN)
        session = logged_in(tenant, staff).cookies["sessionid"].value
        with pytest.raises(InvalidStatus, match="403"):
            open_socket(asgi_server.port, tenant.host, "/ws/wallboard/", session)
    session = logged_in(None, make_user(None, role=Role.ACCOUNT_MANAGER)).cookies["sessionid"].value
    with pytest.raises(InvalidStatus, match="403"):
        open_socket(asgi_server.port, settings.PLATFORM_HOST, "/ws/wallboard/", session)
