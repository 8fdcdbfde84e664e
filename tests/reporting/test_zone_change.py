"""Issue 18 (8): a change of the company's time zone rebuilds its statistics (no day counted twice)."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django_tenants.utils import tenant_context

from reporting import stats, tasks
from reporting.models import Statistic
from telephony.calls.models import TelephonySettings
from tests.factories import CallFactory

DAY = dt.date(2026, 3, 2)


def _two_calls_built_in_utc() -> None:
    """In the current company, zone UTC: a call on each side of Berlin's midnight, both built."""
    TelephonySettings.objects.update_or_create(pk=1, defaults={"timezone": "UTC"})
    # 23:30 UTC on 1 March is 00:30 on 2 March in Berlin; 10:00 UTC is on 2 March in both zones.
    for hour in (-0.5, 10):
        at = dt.datetime(2026, 3, 2, tzinfo=dt.UTC) + dt.timedelta(hours=hour)
        CallFactory(started_at=at, answered=True, queue_id=1, queue_name="Sales")
    stats.build_days(first=DAY - dt.timedelta(days=1), last=DAY)
    assert per_day() == {DAY - dt.timedelta(days=1): 1, DAY: 1}


def per_day() -> dict[dt.date, int]:
    """Calls per local day of the "Sales" queue's daily rows."""
    rows = Statistic.objects.filter(granularity="day", dimension="queue", key=1)
    return {row.day: row.calls for row in rows}


def test_a_time_zone_change_rebuilds_the_companys_statistics(
    db, tenants, monkeypatch, django_capture_on_commit_callbacks
):
    sent_from = []

    def run_in_place() -> None:
        sent_from.append(connection.schema_name)
        tasks.rebuild_statistics.apply()

    monkeypatch.setattr(tasks.rebuild_statistics, "delay", run_in_place)
    with tenant_context(tenants.alpha):
        _two_calls_built_in_utc()
        settings = TelephonySettings.current()
        with django_capture_on_commit_callbacks(execute=True):
            settings.short_abandon_seconds = 7
            settings.save()  # no change of zone: nothing rebuilt
        assert sent_from == []
        with django_capture_on_commit_callbacks(execute=True):
            settings.timezone = "Europe/Berlin"
            settings.save()
        assert sent_from == [tenants.alpha.schema_name]
        assert per_day() == {DAY: 2}  # both calls on Berlin's 2 March, the UTC day gone
        intervals = Statistic.objects.filter(granularity="15m", dimension="queue", key=1)
        assert sorted(row.day for row in intervals) == [DAY, DAY]
    with tenant_context(tenants.beta):
        assert not Statistic.objects.filter(key=1, day=DAY).exists()  # beta's own rows untouched


def test_the_rebuild_is_sent_in_the_company_whose_zone_changed_even_after_leaving_its_schema(
    db, tenants, monkeypatch, django_capture_on_commit_callbacks
):
    """The demo (and any script) may change a zone inside an outer transaction and leave the
    company's schema before it commits: the rebuild is still sent from that company's schema
    (it was sent from public and refused by the worker)."""
    sent_from = []
    monkeypatch.setattr(tasks.rebuild_statistics, "delay", lambda: sent_from.append(connection.schema_name))
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenants.alpha):
        TelephonySettings.objects.update_or_create(pk=1, defaults={"timezone": "UTC"})
        settings = TelephonySettings.current()
        settings.timezone = "Asia/Tokyo"
        settings.save()
    assert sent_from == [tenants.alpha.schema_name]


def test_a_rebuild_that_could_not_be_sent_is_done_by_the_next_build(
    db, tenants, broken_publish, caplog, django_capture_on_commit_callbacks
):
    """The zone's change is saved but its rebuild never reaches a worker (Redis away): the rows of
    the old zone's days stay until the next build, which rebuilds them all (a build never mixes
    two zones' days), however short its own range."""
    with tenant_context(tenants.alpha):
        _two_calls_built_in_utc()
        assert TelephonySettings.current().statistics_zone == "UTC"  # built in that zone
        settings = TelephonySettings.current()
        with django_capture_on_commit_callbacks(execute=True):
            settings.timezone = "Europe/Berlin"
            settings.save()
        assert "rebuild_statistics() could not be sent" in caplog.text
        assert per_day() == {DAY - dt.timedelta(days=1): 1, DAY: 1}  # still UTC's days
        stats.build_days(first=dt.date(2026, 12, 4), last=dt.date(2026, 12, 5))  # the next calls' build
        assert per_day() == {DAY: 2}
        assert TelephonySettings.current().statistics_zone == "Europe/Berlin"
        stats.build_days(first=DAY, last=DAY)
        assert per_day() == {DAY: 2}  # built in the zone now: only its range
