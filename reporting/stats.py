"""Interval (15 min) and daily statistics per queue and per operator, aggregated in the database.

A call counts in the period where it started (``kpis``); a period is rebuilt as a whole, its rows
upserted on their unique key and rows of queues or operators without calls any more removed,
so building it twice gives the same rows and a late call record updates its period.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db import connection, transaction
from django.db.models import Count, DateTimeField, F, Func, IntegerField, Max, Q, Sum, Value
from django.db.models.functions import Coalesce, Trunc
from django.utils import timezone

from reporting import kpis
from reporting.models import Statistic
from telephony.calls.models import Call, TelephonySettings

INTERVAL = dt.timedelta(minutes=15)
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
    """(Re)build interval and daily statistics of the local days ``first``..``last``; rows written."""
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
    return Trunc("started_at", "day", tzinfo=zone, output_field=DateTimeField())


def _build(
    *,
    granularity: str,
    start: dt.datetime,
    end: dt.datetime,
    zone: dt.tzinfo,
    sl_seconds: int,
    short_abandon_seconds: int,
) -> int:
    calls = Call.objects.filter(started_at__gte=start, started_at__lt=end).order_by()
    metrics = _metrics(sl_seconds=sl_seconds, short_abandon_seconds=short_abandon_seconds)
    bucket = _bucket(granularity, zone)
    now = timezone.now()
    rows: dict[tuple[str, dt.datetime, int], Statistic] = {}
    keys = {
        Statistic.Dimension.QUEUE: (
            Coalesce("queue_id", Value(0), output_field=IntegerField()),
            "queue_name",
        ),
        Statistic.Dimension.OPERATOR: (F("operator_id"), "operator_name"),
    }
    for dimension, (key, name_field) in keys.items():
        scoped = (
            calls.filter(operator_id__isnull=False) if dimension == Statistic.Dimension.OPERATOR else calls
        )
        grouped = scoped.annotate(period=bucket, group_key=key).values("period", "group_key")
        for found in grouped.annotate(group_name=Max(name_field), **metrics):
            period = found["period"]
            rows[(dimension, period, found["group_key"])] = Statistic(
                granularity=granularity,
                dimension=dimension,
                period_start=period,
                day=period.astimezone(zone).date(),
                key=found["group_key"],
                name=found["group_name"] or "",
                sl_seconds=sl_seconds,
                short_abandon_seconds=short_abandon_seconds,
                built_at=now,
                dispositions={},
                **{m: found[m] for m in METRICS},
            )
        by_disposition = (
            scoped.exclude(disposition="")
            .annotate(period=bucket, group_key=key)
            .values("period", "group_key", "disposition")
            .annotate(n=Count("id"))
        )
        for found in by_disposition:
            row = rows[(dimension, found["period"], found["group_key"])]
            row.dispositions[found["disposition"]] = found["n"]
    for row in rows.values():
        row.dispositions = dict(sorted(row.dispositions.items()))
    existing = Statistic.objects.filter(
        granularity=granularity, period_start__gte=start, period_start__lt=end
    )
    stale = [
        pk
        for pk, dimension, period, key in existing.values_list("pk", "dimension", "period_start", "key")
        if (dimension, period, key) not in rows
    ]
    Statistic.objects.filter(pk__in=stale).delete()
    Statistic.objects.bulk_create(
        list(rows.values()),
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["granularity", "dimension", "period_start", "key"],
        update_fields=[
            "day",
            "name",
            "sl_seconds",
            "short_abandon_seconds",
            "dispositions",
            "built_at",
            *METRICS,
        ],
    )
    return len(rows)
