"""Platform-wide figures and staffing for the back office: the one place reporting reads across tenants.

Everything here reads the client companies' ``Statistic`` rows (built by ``reporting.stats`` with
the ``kpis`` definitions) in one ``UNION ALL`` statement over their schemas, so a page costs one
round trip whatever the number of tenants; rates come from ``kpis.rates`` on the summed counts.
Functions that cross tenants are named ``unscoped_…``; callers check the user's role first.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import Q

from reporting import expected_volume, kpis, staffing, stats
from reporting.models import Statistic
from telephony.calls.models import Call
from telephony.routing_models import OperatorEvent, OperatorProfile, OperatorState
from tenants.contracts import DEFAULT_SL_PERCENT
from tenants.models import Client

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
INTERVAL_SECONDS = 15 * 60
DEFAULT_AHT_SECONDS = 180  # when neither the interval nor its day handled a call


def reporting_clients() -> list[Client]:
    """Client companies whose figures count: active ones and suspended ones (they had calls)."""
    return list(
        Client.objects.companies()
        .filter(status__in=[Client.Status.ACTIVE, Client.Status.SUSPENDED])
        .order_by("name")
    )


def _table(client: Client) -> str:
    if not SCHEMA_NAME.match(client.schema_name):
        raise ValueError(f"unexpected schema name {client.schema_name!r}")
    return f"{connection.ops.quote_name(client.schema_name)}.{Statistic._meta.db_table}"


@dataclass
class Figures:
    """One client company's (or the total's) counts of a period, and the KPIs of those counts."""

    client: Client | None
    totals: kpis.Totals = field(default_factory=kpis.Totals)
    built_at: dt.datetime | None = None

    @property
    def rates(self) -> dict[str, float | None]:
        return kpis.rates(self.totals)


def unscoped_figures(
    *, first: dt.date, last: dt.date, clients: list[Client] | None = None
) -> tuple[list[Figures], Figures]:
    """Per client company and in total, the daily statistics of local days ``first``..``last``.

    Each company's day is its own local day (``Statistic.day``); its SL counts calls answered within
    its own threshold. The total is the sum of the companies' counts, never an average of rates.
    """
    clients = reporting_clients() if clients is None else clients
    rows: dict[int, Figures] = {c.pk: Figures(client=c) for c in clients}
    if clients:
        sums = ", ".join(f"COALESCE(SUM({c}), 0)" for c in kpis.METRICS)
        parts, params = [], []
        for client in clients:
            parts.append(
                f"SELECT %s AS client_id, {sums}, MAX(built_at) FROM {_table(client)}"  # noqa: S608
                " WHERE granularity = %s AND dimension = %s AND day >= %s AND day <= %s"
            )
            params += [client.pk, Statistic.Granularity.DAY, Statistic.Dimension.QUEUE, first, last]
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            for client_id, *values in cursor.fetchall():
                *counts, built_at = values
                rows[client_id].totals = kpis.Totals(
                    **dict(zip(kpis.METRICS, (int(v) for v in counts), strict=True))
                )
                rows[client_id].built_at = built_at
    total = Figures(client=None)
    for row in rows.values():
        for name in kpis.METRICS:
            setattr(total.totals, name, getattr(total.totals, name) + getattr(row.totals, name))
        if row.built_at and (total.built_at is None or row.built_at < total.built_at):
            total.built_at = row.built_at  # the stalest company says how fresh the total is
    return list(rows.values()), total


# Staffing


@dataclass(frozen=True)
class IntervalStaffing:
    start: dt.datetime
    offered: int
    aht_seconds: float
    needed: int
    expected_sl: float | None
    expected_asa_seconds: float | None
    logged_in: float | None  # time-weighted mean of operators logged in during the interval
    # Erlang A (callers hang up after their patience): None when the day had no abandons to measure it.
    needed_erlang_a: int | None = None
    expected_sl_erlang_a: float | None = None
    expected_abandon_erlang_a: float | None = None


@dataclass(frozen=True)
class StaffingDay:
    day: dt.date
    source_day: dt.date
    forecast: bool
    target_sl_percent: int
    threshold_seconds: int
    intervals: list[IntervalStaffing]
    logged_in_now: int
    available_now: int
    patience_seconds: float | None = None  # mean patience of the source day's callers (Erlang A)
    from_contract: bool = False  # no history: the volume is the contract's expected calls

    @property
    def peak_needed(self) -> int:
        return max((i.needed for i in self.intervals), default=0)

    @property
    def peak_needed_erlang_a(self) -> int | None:
        if self.patience_seconds is None:
            return None
        return max((i.needed_erlang_a or 0 for i in self.intervals), default=0)


def platform_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def source_day(day: dt.date, today: dt.date) -> tuple[dt.date, bool]:
    """The day whose volume stands for ``day``: itself when past, else the last same weekday before today."""
    if day < today:
        return day, False
    weeks = (day - today).days // 7 + 1
    return day - dt.timedelta(days=7 * weeks), True


def unscoped_interval_volume(
    *, clients: list[Client], day: dt.date
) -> dict[dt.datetime, tuple[int, int, int]]:
    """Per 15-minute interval of ``day`` (platform time): (offered, handled, handling seconds), summed."""
    if not clients:
        return {}
    start, end = stats.day_bounds(day, platform_zone())
    parts, params = [], []
    for client in clients:
        # Only a validated, quoted schema name is interpolated; values go as parameters.
        # AHT of the queues' own (inbound) calls: outbound calls of a queue never stand in for it.
        select = "SELECT period_start, offered, inbound_handled AS handled, inbound_handle_seconds AS handle"
        parts.append(
            f"{select} FROM {_table(client)} WHERE granularity = %s AND dimension = %s"
            " AND period_start >= %s AND period_start < %s"
        )
        params += [Statistic.Granularity.INTERVAL, Statistic.Dimension.QUEUE, start, end]
    sql = (
        "SELECT period_start, SUM(offered), SUM(handled), SUM(handle) FROM ("  # noqa: S608
        + " UNION ALL ".join(parts)
        + ") AS s GROUP BY period_start"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0]: (int(row[1]), int(row[2]), int(row[3])) for row in cursor.fetchall()}


def unscoped_patience(*, clients: list[Client], day: dt.date) -> float | None:
    """Mean patience of the callers queued on ``day`` (platform time), from the calls themselves:
    the waiting time of every queued call / the abandons (``staffing.patience_estimate``)."""
    if not clients:
        return None
    start, end = stats.day_bounds(day, platform_zone())
    parts, params = [], []
    for client in clients:
        _table(client)  # checks the schema name
        table = f"{connection.ops.quote_name(client.schema_name)}.{Call._meta.db_table}"
        parts.append(
            f"SELECT wait_seconds, outcome FROM {table} WHERE queued_at IS NOT NULL"  # noqa: S608
            " AND wait_seconds IS NOT NULL AND started_at >= %s AND started_at < %s"
        )
        params += [start, end]
    sql = (
        "SELECT COALESCE(SUM(wait_seconds), 0), COUNT(*) FILTER (WHERE outcome = %s) FROM ("  # noqa: S608
        + " UNION ALL ".join(parts)
        + ") AS q"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [Call.Outcome.ABANDONED, *params])
        waiting, abandoned = cursor.fetchone()
    return staffing.patience_estimate(waiting_seconds=float(waiting), abandoned=int(abandoned))


def _operators(client: Client | None) -> Q:
    """Operators of the pool, or those with a skill on one of the client company's queues."""
    if client is None:
        return Q(user__role="operator")
    return Q(skills__queue__tenant=client)


def _logged_in_per_interval(
    *, operator_filter: Q, starts: list[dt.datetime], now: dt.datetime
) -> dict[dt.datetime, float]:
    """Time-weighted mean number of operators not offline in each interval (up to ``now``)."""
    if not starts:
        return {}
    begin, end = starts[0], min(starts[-1] + dt.timedelta(seconds=INTERVAL_SECONDS), now)
    operator_ids = list(
        OperatorProfile.objects.filter(operator_filter).values_list("pk", flat=True).distinct()
    )
    events = OperatorEvent.objects.filter(operator_id__in=operator_ids).exclude(state="")
    before = {
        e.operator_id: e.state
        for e in events.filter(at__lt=begin).order_by("operator_id", "-at", "-id").distinct("operator_id")
    }
    during: dict[int, list[tuple[dt.datetime, str]]] = defaultdict(list)
    for e in events.filter(at__gte=begin, at__lt=end).order_by("at", "id"):
        during[e.operator_id].append((e.at, e.state))
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    for operator_id in operator_ids:
        online_since = (
            begin if before.get(operator_id, OperatorState.OFFLINE) != OperatorState.OFFLINE else None
        )
        for at, state in during.get(operator_id, []):
            if state == OperatorState.OFFLINE and online_since is not None:
                spans.append((online_since, at))
                online_since = None
            elif state != OperatorState.OFFLINE and online_since is None:
                online_since = at
        if online_since is not None:
            spans.append((online_since, end))
    result: dict[dt.datetime, float] = {}
    for start in starts:
        stop = start + dt.timedelta(seconds=INTERVAL_SECONDS)
        if start >= now:
            continue
        until = min(stop, now)  # the interval under way: the mean so far
        seconds = sum(max(0.0, (min(b, until) - max(a, start)).total_seconds()) for a, b in spans)
        result[start] = seconds / (until - start).total_seconds()
    return result


def unscoped_staffing(
    *,
    client: Client | None,
    day: dt.date,
    now: dt.datetime,
    target_sl_percent: int | None = None,
    threshold_seconds: int | None = None,
) -> StaffingDay:
    """Erlang C, and Erlang A beside it, per 15-minute interval of ``day`` for one client company
    (or the whole pool).

    Volume and AHT are those of ``day`` when it is past, else of the same weekday last week (a
    naive forecast); so is the callers' patience (Erlang A), measured on that day's queued calls;
    the operators logged in come from their state history and current state.
    """
    today = now.astimezone(platform_zone()).date()
    source, forecast = source_day(day, today)
    default_sl, default_threshold = (
        stats.contract_target(client) if client else (DEFAULT_SL_PERCENT, kpis.DEFAULT_SL_SECONDS)
    )
    target = target_sl_percent or default_sl
    threshold = threshold_seconds or default_threshold
    clients = [client] if client else reporting_clients()
    volume = unscoped_interval_volume(clients=clients, day=source)
    patience = unscoped_patience(clients=clients, day=source)
    day_handled = sum(v[1] for v in volume.values())
    day_aht = sum(v[2] for v in volume.values()) / day_handled if day_handled else DEFAULT_AHT_SECONDS
    shift = day - source
    start, end = stats.day_bounds(day, platform_zone())
    starts = []
    cursor = start
    while cursor < end:
        starts.append(cursor)
        cursor += dt.timedelta(seconds=INTERVAL_SECONDS)
    from_contract = False
    if client is not None and forecast and not volume:  # no history: the contract's expected calls
        expected = expected_volume.unscoped_contract_volume(client=client, starts=starts)
        volume = {start - shift: (calls, 0, 0) for start, calls in expected.items()}
        from_contract = bool(volume)
    operators = _operators(client)
    logged = _logged_in_per_interval(operator_filter=operators, starts=starts, now=now)
    intervals = []
    for interval_start in starts:
        offered, handled, handle = volume.get(interval_start - shift, (0, 0, 0))
        aht = handle / handled if handled else day_aht
        if offered:
            result = staffing.agents_needed(
                calls=offered,
                interval_seconds=INTERVAL_SECONDS,
                aht_seconds=aht,
                target_sl=target / 100,
                threshold_seconds=threshold,
            )
            needed, sl, asa = result.agents, result.service_level, result.asa_seconds
        else:
            needed, sl, asa = 0, None, None
        with_abandons = None
        if offered and patience is not None:
            with_abandons = staffing.agents_needed_with_abandonment(
                calls=offered,
                interval_seconds=INTERVAL_SECONDS,
                aht_seconds=aht,
                patience_seconds=patience,
                target_sl=target / 100,
                threshold_seconds=threshold,
            )
        intervals.append(
            IntervalStaffing(
                start=interval_start,
                offered=offered,
                aht_seconds=aht,
                needed=needed,
                expected_sl=sl,
                expected_asa_seconds=None if asa is None or math.isinf(asa) else asa,
                logged_in=logged.get(interval_start),
                needed_erlang_a=with_abandons.agents if with_abandons else None,
                expected_sl_erlang_a=with_abandons.service_level if with_abandons else None,
                expected_abandon_erlang_a=with_abandons.probability_of_abandoning if with_abandons else None,
            )
        )
    profiles = OperatorProfile.objects.filter(operators).exclude(state=OperatorState.OFFLINE)
    states = [state for _, state in profiles.values_list("pk", "state").distinct()]
    return StaffingDay(
        day=day,
        source_day=source,
        forecast=forecast,
        target_sl_percent=target,
        threshold_seconds=threshold,
        intervals=intervals,
        logged_in_now=len(states),
        available_now=sum(s == OperatorState.AVAILABLE for s in states),
        patience_seconds=patience,
        from_contract=from_contract,
    )
