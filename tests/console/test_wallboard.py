"""The supervisors' wallboard: today's figures per queue and operator, pushed live; supervisors only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone
from websockets.exceptions import InvalidStatus

from accounts.models import Role
from telephony import routing, wallboard
from telephony.models import OperatorProfile, Reservation, WaitingCall
from tests.conftest import http, logged_in, make_user
from tests.sockets import open_socket, receive_json
from tests.telephony.helpers import make_operator, make_queue, sid


def _call(queue, *, enqueued: float, answered: float | None = None, left: float | None = None,
          outcome: str = "", operator=None, now: dt.datetime) -> WaitingCall:  # fmt: skip
    def ago(seconds):
        return None if seconds is None else now - dt.timedelta(seconds=seconds)

    state = "left" if left is not None else ("bridged" if answered is not None else "waiting")
    return WaitingCall.objects.create(
        tenant=queue.tenant, queue=queue, call_sid=sid(), enqueued_at=ago(enqueued),
        answered_at=ago(answered), left_at=ago(left), outcome=outcome, operator=operator, state=state,
    )  # fmt: skip


def test_the_snapshot_counts_todays_calls_per_queue_and_operator(db, tenants):
    now = timezone.now().replace(hour=12)
    queue = make_queue(tenants.alpha, service_level_seconds=20)
    operator = make_operator({queue: 1})
    _call(queue, enqueued=600, answered=590, left=400, outcome="handled", operator=operator, now=now)  # 10 s
    _call(queue, enqueued=500, answered=460, left=300, outcome="handled", operator=operator, now=now)  # 40 s
    _call(queue, enqueued=300, left=200, outcome="abandoned", now=now)
    _call(queue, enqueued=100, left=98, outcome="abandoned", now=now)  # short: left out of the rates
    _call(queue, enqueued=45, now=now)  # still waiting

    snap = wallboard.snapshot(now=now)
    row = next(q for q in snap["queues"] if q["id"] == queue.pk)
    assert (row["tenant"], row["waiting"], row["longest_wait"]) == ("Alpha Ltd", 1, 45)
    assert (row["offered"], row["answered"], row["abandoned"], row["short"]) == (5, 2, 2, 1)
    assert row["service_level"] == 25  # 1 within 20 s of 4 offered (short abandons left out)
    assert row["abandon_rate"] == 25
    assert any("Longest wait 45 s" in alert for alert in snap["alerts"])
    me = next(o for o in snap["operators"] if o["id"] == operator.pk)
    assert (me["handled"], me["aht"], me["missed"], me["state"]) == (2, 175, 0, "available")


def test_a_supervisor_forcing_a_ringing_operator_offline_reroutes_the_call(
    db, tenants, django_capture_on_commit_callbacks
):
    queue = make_queue(tenants.alpha)
    forgotten = make_operator({queue: 1}, idle=0)
    with django_capture_on_commit_callbacks(execute=True):
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid())
    assert Reservation.objects.get(call=call, state="offered").operator == forgotten
    other = make_operator({queue: 1}, idle=10)
    supervisor = make_user(None, role=Role.SUPERVISOR)
    with django_capture_on_commit_callbacks(execute=True):
        wallboard.force_state(supervisor=supervisor, operator_id=forgotten.pk, state="offline")
    assert OperatorProfile.objects.get(pk=forgotten.pk).state == "offline"
    assert Reservation.objects.get(call=call, state="offered").operator == other
    with pytest.raises(ValueError, match="supervisor may set"):
        wallboard.force_state(supervisor=supervisor, operator_id=other.pk, state="on_call")


def test_only_supervisors_and_platform_admins_open_the_wallboard(db, tenants, platform_admin):
    assert http(None).get("/wallboard/").status_code == 302
    assert logged_in(None, make_user(None, role=Role.SUPERVISOR)).get("/wallboard/").status_code == 200
    assert logged_in(None, platform_admin).get("/wallboard/").status_code == 200
    assert logged_in(None, make_operator({}).user).get("/wallboard/").status_code == 403
    client_admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    assert logged_in(tenants.alpha, client_admin).get("/wallboard/").status_code == 404


@pytest.mark.slow
def test_the_wallboard_socket_pushes_snapshots_to_supervisors_only(committed, tenants, asgi_server):
    supervisor = make_user(None, role=Role.SUPERVISOR)
    session = logged_in(None, supervisor).cookies["sessionid"].value
    with open_socket(asgi_server.port, settings.PLATFORM_HOST, "/ws/wallboard/", session) as ws:
        first = receive_json(ws)
        second = receive_json(ws)  # pushed again without asking
        assert first["type"] == second["type"] == "snapshot" and second["at"] > first["at"]
    operator = make_operator({})
    session = logged_in(None, operator.user).cookies["sessionid"].value
    with pytest.raises(InvalidStatus, match="403"):
        open_socket(asgi_server.port, settings.PLATFORM_HOST, "/ws/wallboard/", session)
    client_admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    session = logged_in(tenants.alpha, client_admin).cookies["sessionid"].value
    with pytest.raises(InvalidStatus, match="403"):
        open_socket(asgi_server.port, tenants.alpha.host, "/ws/wallboard/", session)
