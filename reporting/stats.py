"""Interval (15 min) and daily statistics per queue and per operator, aggregated in the database.

A call counts in the period where it started (``kpis``); a period is rebuilt as a whole by one
``INSERT … SELECT … ON CONFLICT DO UPDATE`` per dimension (the calls never leave PostgreSQL), and
rows of queues or operators without calls any more are removed, so building it twice gives the
same rows and a late call record updates its period.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db import connection, transaction
from django.db.models import Count, DateTimeField, F, Func, IntegerField, Max, Q, Sum, Value
from django.db.models.functions import Coalesce

from reporting import kpis
from reporting.models import Statistic
from telephony.calls.models import Call, TelephonySettings

INTERVAL = dt.timedelta(minutes=15)
# With METRICS: a row is rewritten only when one of these differs (an unchanged period costs no write).
COMPARED = ["day", "name", "sl_seconds", "short_abandon_seconds", "dispositions"]
METRICS = [
    "calls",
    "offered",
    "answered",
    "answered_within_sl",
    "abandoned",
    "short_abandons",
    "wait_answered_seconds",
    "handled",
    "talk_seconds",
    "hold_seconds",
    "wrapup_seconds",
    "ivr_entered",
    "ivr_contained",
    "transfers",
    "callbacks_requested",
    "voicemails",
    "outbound_attempts",
    "outbound_handled",
]


class QuarterHour(Func):
    """PostgreSQL's ``date_bin``: the start of the 15-minute interval (UTC-aligned) of a timestamp."""

    template = "date_bin('15 minutes', %(expressions)s, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
    output_field = DateTimeField()


class LocalDay(Func):
    """The start of the local day of a timestamp, as a timestamptz (PostgreSQL 12+ ``date_trunc``)."""

    template = "date_trunc('day', %(expressions)s)"
    output_field = DateTimeField()


def _sum(field: str, condition: Q) -> Coalesce:
    return Coalesce(Sum(field, filter=condition), 0)


def _metrics(*, sl_seconds: int, short_abandon_seconds: int) -> dict[str, object]:
    """The ``kpis`` definitions as aggregate expressions over ``Call``."""
    queued = Q(queued_at__isnull=False)
    answered = queued & Q(answered_at__isnull=False)
    abandoned = queued & Q(outcome=Call.Outcome.ABANDONED)
    handled = Q(outcome=Call.Outcome.HANDLED)
    ivr = Q(ivr_started_at__isnull=False)
    outbound = Q(direction=Call.Direction.OUTBOUND)
    wait = Coalesce(F("wait_seconds"), 0)
    return {
        "calls": Count("id"),
        "offered": Count("id", filter=queued),
        "answered": Count("id", filter=answered),
        "answered_within_sl": Count(
            "id", filter=answered & Q(wait_seconds__lte=sl_seconds) | answered & Q(wait_seconds__isnull=True)
        ),
        "abandoned": Count("id", filter=abandoned),
        "short_abandons": Count(
            "id",
            filter=abandoned & (Q(wait_seconds__lte=short_abandon_seconds) | Q(wait_seconds__isnull=True)),
        ),
        "wait_answered_seconds": Coalesce(Sum(wait, filter=answered), 0),
        "handled": Count("id", filter=handled),
        "talk_seconds": _sum("talk_seconds", handled),
        "hold_seconds": _sum("hold_seconds", handled),
        "wrapup_seconds": _sum("wrapup_seconds", handled),
        "ivr_entered": Count("id", filter=ivr),
        "ivr_contained": Count("id", filter=ivr & Q(outcome=Call.Outcome.COMPLETED_IN_IVR)),
        "transfers": Count("id", filter=~Q(transferred_to="")),
        "callbacks_requested": Count("id", filter=Q(outcome=Call.Outcome.CALLBACK_REQUESTED)),
        "voicemails": Count("id", filter=Q(outcome=Call.Outcome.VOICEMAIL)),
        "outbound_attempts": Count("id", filter=outbound),
        "outbound_handled": Count("id", filter=outbound & handled),
    }


def local_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(TelephonySettings.current().timezone or "UTC")


def sl_threshold() -> int:
    """The contract's service-level threshold (T) in force for this client company, else 20 s."""
    from tenants.models import Contract

    tenant = getattr(connection, "tenant", None)
    contract = (
        Contract.objects.filter(client_id=getattr(tenant, "pk", None), in_force__isnull=False)
        .select_related("in_force")
        .first()
    )
    if contract is None:
        return kpis.DEFAULT_SL_SECONDS
    return int(contract.in_force.terms.get("sl_seconds") or kpis.DEFAULT_SL_SECONDS)


def day_bounds(day: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """A local day as [start, end) aware datetimes (23 or 25 hours on DST changes)."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def build_days(*, first: dt.date, last: dt.date) -> int:
    """(Re)build interval and daily statistics of the local days ``first``..``last``; rows there now."""
    zone = local_zone()
    start, _ = day_bounds(first, zone)
    _, end = day_bounds(last, zone)
    options = {
        "sl_seconds": sl_threshold(),
        "short_abandon_seconds": TelephonySettings.current().short_abandon_seconds,
    }
    written = 0
    with transaction.atomic():
        for granularity in Statistic.Granularity:
            written += _build(granularity=granularity, start=start, end=end, zone=zone, **options)
    return written


def _bucket(granularity: str, zone: dt.tzinfo) -> Func:
    if granularity == Statistic.Granularity.INTERVAL:
        return QuarterHour("started_at")
    return LocalDay("started_at", Value(str(zone)))


def _build(
    *,
    granularity: str,
    start: dt.datetime,
    end: dt.datetime,
    zone: dt.tzinfo,
    sl_seconds: int,
    short_abandon_seconds: int,
) -> int:
    """One statement per dimension: aggregate the calls and upsert the rows, all inside PostgreSQL."""
    calls = Call.objects.filter(started_at__gte=start, started_at__lt=end).order_by()
    metrics = _metrics(sl_seconds=sl_seconds, short_abandon_seconds=short_abandon_seconds)
    bucket = _bucket(granularity, zone)
    keys = {
        Statistic.Dimension.QUEUE: (
            Coalesce("queue_id", Value(0), output_field=IntegerField()),
            "queue_name",
        ),
        Statistic.Dimension.OPERATOR: (F("operator_id"), "operator_name"),
    }
    table = Statistic._meta.db_table
    columns = ", ".join(METRICS)
    updates = ", ".join(
        f"{c} = EXCLUDED.{c}"
        for c in ["day", "name", "sl_seconds", "short_abandon_seconds", "dispositions", "built_at", *METRICS]
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        stamp = cursor.fetchone()[0]
        for dimension, (key, name_field) in keys.items():
            scoped = (
                calls.filter(operator_id__isnull=False)
                if dimension == Statistic.Dimension.OPERATOR
                else calls
            )
            grouped = (
                scoped.annotate(period=bucket, group_key=key)
                .values("period", "group_key")
                .annotate(group_name=Max(name_field), **metrics)
            )
            by_disposition = (
                scoped.exclude(disposition="")
                .annotate(period=bucket, group_key=key)
                .values("period", "group_key", "disposition")
                .annotate(n=Count("id"))
            )
            if granularity == Statistic.Granularity.DAY:
                agg_sql, agg_params, disp_sql, disp_params = _days_from_intervals(dimension, start, end, zone)
            else:
                agg_sql, agg_params = grouped.query.sql_with_params()
                disp_sql, disp_params = by_disposition.query.sql_with_params()
            changed = " OR ".join(f"{table}.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in [*COMPARED, *METRICS])
            # Only our table name and ORM-compiled SQL are interpolated; values go as parameters.
            # One statement: upsert the rows that changed, delete those whose queue or operator
            # has no calls in the range any more (both read the same aggregate; PostgreSQL runs a
            # data-modifying WITH to completion whether or not the main query reads it).
            cursor.execute(
                f"""
                WITH agg AS ({agg_sql}),
                disp AS (SELECT period, group_key, jsonb_object_agg(disposition, n ORDER BY disposition) AS d
                         FROM ({disp_sql}) AS x GROUP BY period, group_key),
                upsert AS (
                    INSERT INTO {table} (granularity, dimension, period_start, day, key, name, sl_seconds,
                                         short_abandon_seconds, {columns}, dispositions, built_at)
                    SELECT %s, %s, agg.period, (agg.period AT TIME ZONE %s)::date, agg.group_key,
                           COALESCE(agg.group_name, ''), %s, %s, {", ".join("agg." + m for m in METRICS)},
                           COALESCE(disp.d, '{{}}'::jsonb), %s
                    FROM agg LEFT JOIN disp USING (period, group_key)
                    ON CONFLICT (granularity, dimension, period_start, key) DO UPDATE SET {updates}
                    WHERE {changed}
                    RETURNING 1
                )
                DELETE FROM {table} AS old
                WHERE old.granularity = %s AND old.dimension = %s AND old.period_start >= %s
                  AND old.period_start < %s
                  AND NOT EXISTS (SELECT 1 FROM agg
                                  WHERE agg.period = old.period_start AND agg.group_key = old.key)
                """,  # noqa: S608
                [
                    *agg_params,
                    *disp_params,
                    granularity,
                    dimension,
                    str(zone),
                    sl_seconds,
                    short_abandon_seconds,
                    stamp,
                    granularity,
                    dimension,
                    start,
                    end,
                ],
            )
    return Statistic.objects.filter(
        granularity=granularity, period_start__gte=start, period_start__lt=end
    ).count()


def _days_from_intervals(dimension: str, start: dt.datetime, end: dt.datetime, zone: dt.tzinfo):
    """Days as sums of their 15-minute rows, just built: every zone's midnight falls on a quarter hour,
    so this equals aggregating the calls again, at a fraction of the cost."""
    table = Statistic._meta.db_table
    where = (
        f"FROM {table} s WHERE s.granularity = %s AND s.dimension = %s"
        " AND s.period_start >= %s AND s.period_start < %s"
    )
    params = [str(zone), Statistic.Granularity.INTERVAL, dimension, start, end]
    sums = ", ".join(f"sum(s.{m}) AS {m}" for m in METRICS)
    agg = (
        "SELECT date_trunc('day', s.period_start, %s) AS period, s.key AS group_key,"
        f" max(s.name) AS group_name, {sums} {where} GROUP BY 1, 2"
    )
    disp = (
        "SELECT date_trunc('day', s.period_start, %s) AS period, s.key AS group_key, e.key AS disposition,"  # noqa: S608
        f" sum(e.value::int) AS n FROM {table} s CROSS JOIN LATERAL jsonb_each_text(s.dispositions) e"
        " WHERE s.granularity = %s AND s.dimension = %s AND s.period_start >= %s AND s.period_start < %s"
        " GROUP BY 1, 2, 3"
    )
    return agg, params, disp, list(params)
