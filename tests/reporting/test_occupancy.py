"""Issue 18 (7): occupancy per operator, correct across midnight: on the wallboard and per period in
the back office (operators serve every company, so it is a platform figure)."""

from __future__ import annotations

import datetime as dt

from accounts.models import Role
from console import wallboard
from reporting import kpis, operator_time
from telephony.routing_models import OperatorEvent
from tests.conftest import logged_in, make_user
from tests.telephony.helpers import make_operator

MIDNIGHT = dt.datetime(2026, 3, 3, tzinfo=dt.UTC)  # the platform's time zone is UTC


def at(hours: float) -> dt.datetime:
    return MIDNIGHT + dt.timedelta(hours=hours)


def night_shift():
    """Available from 22:00 the day before; one call of 36 min from 05:00, back to available."""
    operator = make_operator()
    for state, when in [
        ("available", at(-2)),
        ("on_call", at(5)),
        ("wrap_up", at(5.5)),
        ("available", at(5.6)),
    ]:
        OperatorEvent.objects.create(operator=operator, kind="state", state=state, at=when)
    return operator


def test_the_state_at_midnight_counts_from_midnight():
    changes = [("on_call", at(5)), ("wrap_up", at(5.5)), ("available", at(5.6))]
    handling, idle = kpis.operator_seconds(changes, state_before="available", since=MIDNIGHT, until=at(6))
    assert (handling, idle) == (0.6 * 3600, 5.4 * 3600)
    assert kpis.occupancy(handle_seconds=handling, idle_seconds=idle) == 0.1
    # Without the state before midnight only the time since the first change would count (60 %).
    assert kpis.operator_seconds(changes, state_before=None, since=MIDNIGHT, until=at(6)) == (2160.0, 1440.0)


def test_the_wallboard_counts_a_night_shift_from_midnight(db, tenants):
    operator = night_shift()
    operator.state, operator.state_since = "available", at(5.6)
    operator.save()
    snap = wallboard.snapshot(now=at(6))
    me = next(o for o in snap["operators"] if o["id"] == operator.pk)
    assert me["occupancy"] == 10  # 36 min of 6 h, not 60 %


def test_the_back_office_shows_each_operators_occupancy_over_the_period(db, tenants):
    operator = night_shift()
    (row,) = [
        r
        for r in operator_time.unscoped_operator_occupancy(first=MIDNIGHT.date(), last=MIDNIGHT.date())
        if r.operator_id == operator.pk
    ]
    assert (row.handling_seconds, row.idle_seconds) == (0.6 * 3600, 23.4 * 3600)  # the whole day
    assert row.occupancy == 0.025
    manager = logged_in(None, make_user(None, role=Role.SUPERVISOR))
    page = manager.get("/backoffice/reports/", {"start": "2026-03-03", "end": "2026-03-03"}).content.decode()
    assert 'id="occupancy"' in page and "2.5 %" in page
