"""The supervisors' wallboard: today's figures per queue and operator, pushed live; supervisors only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tenants.utils import tenant_context
from websockets.exceptions import InvalidStatus

from accounts.models import Role
from console import wallboard
from telephony import routing
from telephony.calls.models import TelephonySettings
from telephony.models import OperatorProfile, Reservation, WaitingCall
from tests.conftest import http, logged_in, make_user
from tests.factories import WaitingCallFactory
from tests.sockets import open_socket, receive_json
from tests.telephony.helpers import make_operator, make_queue, sid


def _call(queue, *, enqueued: float, answered: float | None = None, left: float | None = None,
          outcome: str = "", operator=None, now: dt.datetime) -> WaitingCall:  # fmt: skip
    def ago(seconds):
        return None if seconds is None else now - dt.timedelta(seconds=seconds)

    return WaitingCallFactory(
        queue=queue, enqueued_at=ago(enqueued), answered_at=ago(answered), left_at=ago(left), outcome=outcome,
        operator=operator,
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


@pytest.fixture
def fresh_company_settings():
    """The wallboard caches companies' time zones for a while: start and end without them."""
    wallboard.forget_company_settings()
    yield
    wallboard.forget_company_settings()


def test_a_queues_today_is_its_companys_local_day(db, tenants, fresh_company_settings):
    with tenant_context(tenants.alpha):
        local = TelephonySettings.current()
        local.timezone, local.short_abandon_seconds = "Pacific/Auckland", 10
        local.save()
    # 12:00 UTC on 23 Nov is 01:00 on 24 Nov in Auckland (UTC+13): its day began at 11:00 UTC.
    now = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
    auckland, utc = make_queue(tenants.alpha), make_queue(tenants.beta)
    for queue in (auckland, utc):
        _call(queue, enqueued=30 * 60, answered=30 * 60 - 5, left=60, outcome="handled", now=now)  # 11:30 UTC
        _call(
            queue, enqueued=90 * 60, answered=90 * 60 - 5, left=80 * 60, outcome="handled", now=now
        )  # 10:30 UTC
        _call(queue, enqueued=20 * 60, left=20 * 60 - 8, outcome="abandoned", now=now)  # gave up after 8 s

    rows = {q["id"]: q for q in wallboard.snapshot(now=now)["queues"]}
    assert (rows[auckland.pk]["offered"], rows[auckland.pk]["answered"]) == (
        2,
        1,
    )  # 10:30 UTC was yesterday there
    assert (rows[utc.pk]["offered"], rows[utc.pk]["answered"]) == (3, 2)
    assert rows[auckland.pk]["short"] == 1 and rows[utc.pk]["short"] == 0  # 10 s vs the default 5 s
    assert rows[auckland.pk]["since"] == "2026-11-24T00:00:00+13:00"


def test_alerts_follow_each_queues_own_thresholds(db, tenants, fresh_company_settings):
    now = timezone.now().replace(hour=12)
    strict = make_queue(
        tenants.alpha, service_level_seconds=20, alert_wait_seconds=60, alert_service_level=None,
        alert_abandon_rate=10, alert_waiting_calls=0,
    )  # fmt: skip
    default = make_queue(tenants.alpha, service_level_seconds=20)
    for queue in (strict, default):
        _call(queue, enqueued=600, answered=590, left=400, outcome="handled", now=now)  # within 20 s
        _call(queue, enqueued=500, answered=460, left=300, outcome="handled", now=now)  # 40 s
        _call(queue, enqueued=300, left=200, outcome="abandoned", now=now)
        _call(queue, enqueued=45, now=now)  # waiting 45 s
    rows = {q["id"]: q for q in wallboard.snapshot(now=now)["queues"]}
    assert rows[strict.pk]["alert"] == "1 waiting, over the limit of 0; Abandon rate 25% is over 10%"
    assert rows[default.pk]["alert"] == (
        "Longest wait 45 s is over the 20 s target; Service level 25% is under 80%"
    )


def test_the_queue_thresholds_are_edited_with_the_queue(db, tenants, platform_admin):
    queue = make_queue(tenants.alpha)
    page = logged_in(None, platform_admin).get(f"/admin/telephony/queue/{queue.pk}/change/")
    for field in ("alert_wait_seconds", "alert_service_level", "alert_abandon_rate", "alert_waiting_calls"):
        assert f'name="{field}"'.encode() in page.content
    queue.alert_service_level = 150
    with pytest.raises(ValidationError, match="less than or equal to 100"):
        queue.full_clean()
