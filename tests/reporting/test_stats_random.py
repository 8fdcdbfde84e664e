"""The one-statement statistics build against the definitions, on random call sets: every row the
database builds equals ``kpis.totals`` over the same calls grouped in Python, and no row is missing
or extra (both ways of counting dispositions, a time zone with a DST change, interval borders)."""

from __future__ import annotations

import datetime as dt
import random
import threading
import zoneinfo
from collections import defaultdict

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from reporting import kpis, stats
from reporting.kpis import totals
from reporting.models import Statistic
from telephony.calls.models import Call, TelephonySettings
from tests.factories import CallFactory
from tests.reporting.factories import facts

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
FIRST = dt.date(2026, 3, 28)  # Berlin moves its clocks forward on the 29th: a 23-hour day
LAST = dt.date(2026, 3, 30)
DISPOSITIONS = ["", "", "sale", "info", "complaint", "callback", "wrong number", "spam"]
# More distinct dispositions than the rows give columns of their own (stats.INLINE_DISPOSITIONS, 12):
# the least used go through the side aggregate.
MANY_DISPOSITIONS = ["", *DISPOSITIONS, *(f"reason {n}" for n in range(20))]
OUTCOMES = ["", *(o.value for o in Call.Outcome)]


def random_calls(rng: random.Random, count: int, dispositions: list[str] = DISPOSITIONS) -> list[Call]:
    start, _ = stats.day_bounds(FIRST, BERLIN)
    _, end = stats.day_bounds(LAST, BERLIN)
    span = int((end - start).total_seconds())
    calls = []
    for i in range(count):
        if rng.random() < 0.1:  # on a border: an interval's or a local midnight's first second
            at = start + dt.timedelta(minutes=15 * rng.randrange(span // 900))
        else:
            at = start + dt.timedelta(seconds=rng.randrange(span))
        queued = rng.random() < 0.8
        wait = rng.choice([None, 0, 4, 5, 6, 19, 20, 21, 45])
        queue = rng.choice([None, 1, 2, 3]) if queued else None
        operator = rng.choice([None, 7, 8, 9])
        outcome = rng.choice(OUTCOMES)
        calls.append(
            CallFactory.build(
                call_sid=f"CR{i:032d}",
                direction=rng.choice(["inbound", "inbound", "outbound"]),
                from_number="+15550100100",
                to_number="+15550199001",
                started_at=at,
                ivr_started_at=at if rng.random() < 0.3 else None,
                queued_at=at if queued else None,
                answered_at=at + dt.timedelta(seconds=wait or 0) if rng.random() < 0.6 else None,
                wait_seconds=wait,
                talk_seconds=rng.choice([None, 30, 200]),
                hold_seconds=rng.choice([0, 0, 15]),
                wrapup_seconds=rng.choice([None, 10]),
                queue_id=queue,
                queue_name=f"Queue {queue}" if queue else "",
                operator_id=operator,
                operator_name=f"Op {operator}" if operator else "",
                outcome=outcome,
                outcome_at=at + dt.timedelta(minutes=3) if outcome else None,
                transferred_to=rng.choice(["", "", "legal"]),
                disposition=rng.choice(dispositions),
            )
        )
    return Call.objects.bulk_create(calls)


def expected_rows(calls: list[Call], *, sl_seconds: int, short_abandon_seconds: int) -> dict:
    """(granularity, dimension, period_start, key) → (name, totals), grouped in Python."""
    groups: dict[tuple, list[Call]] = defaultdict(list)
    for call in calls:
        utc = call.started_at.astimezone(dt.UTC)
        interval = utc.replace(minute=utc.minute - utc.minute % 15, second=0, microsecond=0)
        local = call.started_at.astimezone(BERLIN).date()
        day = stats.day_bounds(local, BERLIN)[0]
        for granularity, period in (("15m", interval), ("day", day)):
            groups[(granularity, "queue", period, call.queue_id or 0)].append(call)
            if call.operator_id is not None:
                groups[(granularity, "operator", period, call.operator_id)].append(call)
    rows = {}
    for key, members in groups.items():
        names = [c.queue_name if key[1] == "queue" else c.operator_name for c in members]
        counted = totals(
            [facts(c) for c in members], sl_seconds=sl_seconds, short_abandon_seconds=short_abandon_seconds
        )
        rows[key] = (max(names), counted)
    return rows


@pytest.fixture
def alpha(db, tenants):
    with tenant_context(tenants.alpha):
        settings = TelephonySettings.current()
        settings.timezone = "Europe/Berlin"
        settings.save()
        yield tenants.alpha


@pytest.mark.parametrize(
    ("seed", "dispositions"),
    [(1, DISPOSITIONS), (2, DISPOSITIONS), (3, MANY_DISPOSITIONS), (4, MANY_DISPOSITIONS)],
)
def test_built_rows_are_the_definitions_over_the_same_calls(alpha, seed, dispositions):
    """A few dispositions: each in a column of its own; many (28): the least used go the other way."""
    calls = random_calls(random.Random(seed), 300, dispositions)
    assert stats.build_days(first=FIRST, last=LAST) == Statistic.objects.count()
    expected = expected_rows(
        calls,
        sl_seconds=stats.sl_threshold(),
        short_abandon_seconds=TelephonySettings.current().short_abandon_seconds,
    )
    built = {(r.granularity, r.dimension, r.period_start, r.key): r for r in Statistic.objects.all()}
    assert set(built) == set(expected)
    for key, row in built.items():
        name, counted = expected[key]
        assert row.name == name, key
        assert {m: getattr(row, m) for m in kpis.METRICS} == {m: getattr(counted, m) for m in kpis.METRICS}, (
            key
        )
        assert row.dispositions == counted.dispositions, key
        assert row.day == row.period_start.astimezone(BERLIN).date(), key
    assert {k[2].astimezone(BERLIN).date() for k in built if k[0] == "day"} == {
        FIRST,
        FIRST + dt.timedelta(days=1),
        LAST,
    }


def test_a_rebuild_after_random_changes_equals_a_fresh_build(alpha):
    rng = random.Random(5)
    calls = random_calls(rng, 200)
    stats.build_days(first=FIRST, last=LAST)
    untouched = set(Statistic.objects.values_list("pk", "built_at"))
    for call in rng.sample(calls, 20):  # late records: new outcomes, other queues, other operators
        Call.objects.filter(pk=call.pk).update(
            outcome=rng.choice(OUTCOMES[1:]),
            outcome_at=call.started_at,
            queue_id=rng.choice([None, 4]),
            operator_id=rng.choice([None, 10]),
        )
    Call.objects.filter(pk__in=[c.pk for c in rng.sample(calls, 10)]).delete()
    stats.build_days(first=FIRST, last=LAST)
    fields = ["granularity", "dimension", "period_start", "key", "name", *kpis.METRICS, "dispositions"]
    rebuilt = sorted(Statistic.objects.values_list(*fields))
    assert untouched & set(
        Statistic.objects.values_list("pk", "built_at")
    )  # unchanged rows kept as they were
    Statistic.objects.all().delete()
    stats.build_days(first=FIRST, last=LAST)
    assert sorted(Statistic.objects.values_list(*fields)) == rebuilt


def test_two_builds_of_one_company_at_once_take_turns(committed, tenants):
    """Both finish without a unique-key error and leave the rows one build gives (the advisory lock)."""
    day = dt.date(2031, 1, 6)  # a day of its own: these rows are committed
    start, end = stats.day_bounds(day, dt.UTC)
    with tenant_context(tenants.alpha):
        TelephonySettings.current()  # the zone stays UTC here
        Call.objects.filter(started_at__gte=start, started_at__lt=end).delete()
        at = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)
        Call.objects.bulk_create(
            Call(
                call_sid=f"CT{day:%Y%m%d}{i:024d}",
                direction="inbound",
                from_number="+15550100100",
                to_number="+15550199001",
                started_at=at + dt.timedelta(seconds=37 * i),
                queue_id=1 + i % 3,
                operator_id=1 + i % 40,
                operator_name=f"Op {1 + i % 40}",
            )
            for i in range(2000)
        )
    barrier, errors, results = threading.Barrier(2), [], []

    def build() -> None:
        try:
            with tenant_context(tenants.alpha):
                barrier.wait()
                results.append(stats.build_days(first=day, last=day))
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=build) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == [] and len(results) == 2 and results[0] == results[1]
        with tenant_context(tenants.alpha):
            rows = Statistic.objects.filter(period_start__gte=start, period_start__lt=end)
            assert (
                rows.count() == results[0] and rows.filter(granularity="day", dimension="queue").count() == 3
            )
    finally:
        with tenant_context(tenants.alpha):
            Statistic.objects.filter(period_start__gte=start, period_start__lt=end).delete()
            Call.objects.filter(started_at__gte=start, started_at__lt=end).delete()
