"""Interval and daily statistics built in the database match the pure definitions exactly."""

import datetime as dt

import pytest
from django_tenants.utils import tenant_context

from reporting import kpis, stats
from reporting.kpis import totals
from reporting.models import Statistic
from telephony.calls.models import Call, TelephonySettings
from tests.factories import CallFactory
from tests.reporting.factories import facts

UTC = dt.UTC
DAY = dt.date(2026, 3, 2)


def at(hour: int, minute: int = 0, second: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=UTC)


def answered(start: dt.datetime, wait: int, *, queue: int = 1, operator: int = 7, **kw) -> Call:
    kw.setdefault("talk_seconds", 120)
    kw.setdefault("wrapup_seconds", 15)
    return CallFactory(
        started_at=start,
        queued_at=start,
        answered_at=start + dt.timedelta(seconds=wait),
        wait_seconds=wait,
        queue_id=queue,
        queue_name=f"Queue {queue}",
        operator_id=operator,
        operator_name=f"Op {operator}",
        outcome=Call.Outcome.HANDLED,
        **kw,
    )


def abandoned(start: dt.datetime, wait: int, *, queue: int = 1) -> Call:
    return CallFactory(
        started_at=start,
        queued_at=start,
        wait_seconds=wait,
        queue_id=queue,
        queue_name=f"Queue {queue}",
        outcome=Call.Outcome.ABANDONED,
    )


def row(granularity, dimension, key, period) -> Statistic:
    return Statistic.objects.get(granularity=granularity, dimension=dimension, key=key, period_start=period)


METRICS = kpis.METRICS


def assert_row_matches(row: Statistic, calls: list[Call]) -> None:
    expected = totals(
        [facts(c) for c in calls], sl_seconds=row.sl_seconds, short_abandon_seconds=row.short_abandon_seconds
    )
    assert {m: getattr(row, m) for m in METRICS} == {m: getattr(expected, m) for m in METRICS}
    assert row.dispositions == expected.dispositions


@pytest.fixture
def alpha(db, tenants):
    with tenant_context(tenants.alpha):
        yield tenants.alpha


def test_interval_and_day_rows_match_the_definitions(alpha):
    in_first = [
        answered(at(10, 0, 0), 5, disposition="sale"),
        answered(at(10, 14, 59), 20, hold_seconds=30, disposition="sale"),  # exactly T: within
        answered(at(10, 5), 21, transferred_to="legal", disposition="info"),  # just over T
        abandoned(at(10, 1), 5),  # exactly the short-abandon limit: short
        abandoned(at(10, 2), 6),
        CallFactory(started_at=at(10, 3), ivr_contained=True),
        CallFactory(
            started_at=at(10, 4),
            ivr_started_at=at(10, 4),
            queued_at=at(10, 5),
            queue_id=1,
            wait_seconds=90,
            outcome=Call.Outcome.CALLBACK_REQUESTED,
        ),
    ]
    in_second = [answered(at(10, 15, 0), 3, operator=8)]  # the border belongs to the next interval
    stats.build_days(first=DAY, last=DAY)

    first = row("15m", "queue", 1, at(10, 0))
    assert_row_matches(first, [c for c in in_first if c.queue_id == 1])
    assert (first.offered, first.answered, first.answered_within_sl) == (6, 3, 2)
    assert (first.abandoned, first.short_abandons, first.transfers) == (2, 1, 1)
    assert first.rates["service_level"] == pytest.approx(2 / 5)
    assert first.rates["abandon_rate"] == pytest.approx(1 / 5)
    assert first.rates["aht_seconds"] == pytest.approx((3 * 135 + 30) / 3)
    assert_row_matches(row("15m", "queue", 1, at(10, 15)), in_second)
    assert_row_matches(row("15m", "queue", 0, at(10, 0)), [in_first[5]])  # no queue: key 0

    day = row("day", "queue", 1, at(0))
    assert_row_matches(day, [c for c in in_first + in_second if c.queue_id == 1])
    op7 = row("day", "operator", 7, at(0))
    assert_row_matches(op7, [c for c in in_first if c.operator_id == 7])
    assert op7.name == "Op 7" and op7.dispositions == {"info": 1, "sale": 2}
    assert row("15m", "operator", 8, at(10, 15)).handled == 1


def test_a_call_crossing_midnight_counts_on_the_day_it_started(alpha):
    late = answered(at(23, 59, 50), 15, talk_seconds=600)
    stats.build_days(first=DAY, last=DAY + dt.timedelta(days=1))
    assert row("day", "queue", 1, at(0)).handled == 1
    assert row("15m", "queue", 1, at(23, 45)).talk_seconds == 600
    assert not Statistic.objects.filter(day=DAY + dt.timedelta(days=1), key=1).exists()
    assert_row_matches(row("day", "operator", 7, at(0)), [late])


def test_days_follow_the_client_companys_time_zone(alpha):
    settings = TelephonySettings.current()
    settings.timezone = "Europe/Berlin"
    settings.save()
    answered(at(23, 30), 4)  # 00:30 the next day in Berlin
    stats.build_days(first=DAY, last=DAY + dt.timedelta(days=1))
    day = Statistic.objects.get(granularity="day", dimension="queue", key=1)
    assert day.day == DAY + dt.timedelta(days=1)
    assert day.period_start == dt.datetime(2026, 3, 2, 23, 0, tzinfo=UTC)


def test_building_twice_gives_the_same_rows(alpha):
    answered(at(9), 4)
    abandoned(at(9, 20), 2)
    stats.build_days(first=DAY, last=DAY)
    before = list(
        Statistic.objects.values_list("pk", "granularity", "dimension", "period_start", "key", *METRICS)
    )
    stats.build_days(first=DAY, last=DAY)
    after = list(
        Statistic.objects.values_list("pk", "granularity", "dimension", "period_start", "key", *METRICS)
    )
    assert before == after and len(after) == 3 + 2  # queue: 2 intervals + 1 day; operator: 1 + 1


def test_a_late_call_record_updates_its_period(alpha):
    waiting = CallFactory(started_at=at(11), queued_at=at(11), queue_id=1, queue_name="Queue 1")
    stats.build_days(first=DAY, last=DAY)
    assert row("15m", "queue", 1, at(11)).abandoned == 0
    Call.objects.filter(pk=waiting.pk).update(
        outcome=Call.Outcome.ABANDONED, outcome_at=at(11, 1), wait_seconds=40
    )
    answered(at(11, 10), 8, queue=2)
    stats.build_days(first=DAY, last=DAY)
    assert row("15m", "queue", 1, at(11)).abandoned == 1
    assert row("day", "queue", 2, at(0)).answered == 1


def test_a_queue_without_calls_any_more_loses_its_row(alpha):
    call = answered(at(12), 4, queue=3)
    stats.build_days(first=DAY, last=DAY)
    Call.objects.filter(pk=call.pk).update(queue_id=4, queue_name="Queue 4")
    stats.build_days(first=DAY, last=DAY)
    assert set(Statistic.objects.filter(dimension="queue").values_list("key", flat=True)) == {4}


def test_statistics_stay_in_their_client_companys_schema(db, tenants):
    with tenant_context(tenants.alpha):
        answered(at(13), 4)
        stats.build_days(first=DAY, last=DAY)
        assert Statistic.objects.exists()
    with tenant_context(tenants.beta):
        assert not Statistic.objects.exists()
        stats.build_days(first=DAY, last=DAY)
        assert not Statistic.objects.exists()
