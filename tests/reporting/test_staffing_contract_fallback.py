"""A company without call history is staffed from its contract's expected calls (issue 21: a new
or quiet company always showed 0 operators needed)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Role
from reporting import platform, staffing
from telephony.calls.models import TelephonySettings
from tests.conftest import logged_in, make_user
from tests.reporting.factories import contract_in_force

WEEKDAYS_9_TO_5 = {str(d): [["09:00", "17:00"]] for d in range(5)}


def _next(weekday: int) -> dt.date:
    today = timezone.now().date()
    return today + dt.timedelta(days=(weekday - today.weekday()) % 7 or 7)


def test_a_company_without_history_is_staffed_from_its_contract(db, tenants):
    with tenant_context(tenants.beta):
        TelephonySettings.objects.update_or_create(
            pk=1, defaults={"timezone": "UTC", "business_hours": WEEKDAYS_9_TO_5, "holidays": []}
        )
    contract_in_force(tenants.beta, tariffs=[])  # 1,000 calls a month, at most 10 in an hour
    monday = _next(0)
    day = platform.unscoped_staffing(client=tenants.beta, day=monday, now=timezone.now())
    assert day.forecast and day.from_contract
    busy = {i.start.astimezone(dt.UTC).strftime("%H:%M"): i.offered for i in day.intervals if i.offered}
    assert sorted(busy) == [f"{h:02d}:{m:02d}" for h in range(9, 17) for m in (0, 15, 30, 45)]
    per_day = 1000 / (365.25 / 12 * 5 / 7)  # five open weekdays
    assert set(busy.values()) == {round(min(10 / 4, per_day / 32), 1)}
    want = staffing.agents_needed(
        calls=busy["10:00"], interval_seconds=900, aht_seconds=platform.DEFAULT_AHT_SECONDS,
        target_sl=day.target_sl_percent / 100, threshold_seconds=day.threshold_seconds,
    )  # fmt: skip
    assert day.peak_needed == want.agents > 0
    sunday = platform.unscoped_staffing(client=tenants.beta, day=_next(6), now=timezone.now())
    assert sunday.peak_needed == 0  # closed on Sundays

    page = logged_in(None, make_user(None, role=Role.SUPERVISOR)).get(
        "/backoffice/reports/staffing/", {"client": tenants.beta.pk, "day": monday.isoformat()}
    )
    assert page.status_code == 200 and 'id="from-contract"' in page.content.decode()


def test_without_a_contract_nothing_is_made_up(db, tenants):
    day = platform.unscoped_staffing(client=tenants.beta, day=_next(0), now=timezone.now())
    assert not day.from_contract and day.peak_needed == 0
