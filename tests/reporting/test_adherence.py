"""Issue 18: adherence per operator to their planned shifts (operations.Shift), correct across
midnight, beside occupancy in the back office's figures (operators serve every company: a platform
figure; there is no platform-staff API, so the back office only)."""

from __future__ import annotations

import datetime as dt

from accounts.models import Role
from operations.models import Shift
from reporting import kpis, operator_time
from telephony.routing_models import OperatorEvent
from tests.conftest import logged_in, make_user
from tests.telephony.helpers import make_operator

MIDNIGHT = dt.datetime(2026, 3, 3, tzinfo=dt.UTC)  # the platform's time zone is UTC


def at(hours: float) -> dt.datetime:
    return MIDNIGHT + dt.timedelta(hours=hours)


# Shift 23:00 to 07:00 with 30 min of planned break: working from 23:00, a 60 min break from 02:00
# (30 min beyond the allowance), logged off at 06:00 (one hour early).
CHANGES = [("available", at(-1)), ("break", at(2)), ("available", at(3)), ("offline", at(6))]


def test_adherence_counts_working_states_and_breaks_up_to_the_plan():
    shifts = [(at(-1), at(7), 30 * 60.0)]
    adherent, scheduled = kpis.adherence_seconds(
        CHANGES[1:], state_before="available", shifts=shifts, since=MIDNIGHT, until=at(24)
    )
    # From midnight (the state then counts from its first second): 5 h working + 30 min of break.
    assert (adherent, scheduled) == (5.5 * 3600, 7 * 3600)
    assert kpis.adherence(adherent_seconds=adherent, scheduled_seconds=scheduled) == 5.5 / 7
    # The day before holds the shift's first hour, all of it working.
    assert kpis.adherence_seconds(
        CHANGES[:1], state_before=None, shifts=shifts, since=at(-24), until=MIDNIGHT
    ) == (3600.0, 3600.0)
    # Reserved (an offer ringing), on a call and wrap-up are working too; with no shift, nothing.
    calls = [("reserved", at(1)), ("on_call", at(1.1)), ("wrap_up", at(1.5)), ("available", at(1.6))]
    assert kpis.adherence_seconds(
        calls, state_before="available", shifts=[(at(0), at(2), 0.0)], since=MIDNIGHT, until=at(24)
    ) == (7200.0, 7200.0)
    assert kpis.adherence_seconds(
        calls, state_before="available", shifts=[], since=MIDNIGHT, until=at(24)
    ) == (
        0.0,
        0.0,
    )
    assert kpis.adherence(adherent_seconds=0, scheduled_seconds=0) is None


def test_the_back_office_shows_adherence_beside_occupancy(db, tenants):
    operator = make_operator()
    for state, when in CHANGES:
        OperatorEvent.objects.create(operator=operator, kind="state", state=state, at=when)
    Shift.objects.create(operator=operator, starts_at=at(-1), ends_at=at(7), break_minutes=30)
    absent = make_operator(state="offline")  # planned, never logged in: 0 % adherence
    Shift.objects.create(operator=absent, starts_at=at(8), ends_at=at(12))
    rows = {
        r.operator_id: r
        for r in operator_time.unscoped_operator_occupancy(first=MIDNIGHT.date(), last=MIDNIGHT.date())
    }
    assert (rows[operator.pk].adherent_seconds, rows[operator.pk].scheduled_seconds) == (19800.0, 25200.0)
    assert (rows[absent.pk].adherence, rows[absent.pk].occupancy) == (0.0, None)
    manager = logged_in(None, make_user(None, role=Role.SUPERVISOR))
    page = manager.get("/backoffice/reports/", {"start": "2026-03-03", "end": "2026-03-03"}).content.decode()
    assert "Adherence" in page and "78.6 %" in page and "25200 s" in page and "14400 s" in page
