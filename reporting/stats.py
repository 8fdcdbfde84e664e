"""Interval (15 min) and daily statistics per queue and per operator, aggregated in the database.

A call counts in the period where it started (``kpis``). A range of local days is rebuilt as a
whole by one SQL statement (the calls never leave PostgreSQL): it aggregates the calls into the
15-minute rows, sums those into the daily rows, and compares the result with the rows there:
changed rows are updated, new ones inserted and rows of queues or operators without calls any more
deleted. Building a range twice gives the same rows (the second time writes nothing) and a late call
record updates its period. Builds of one client company take turns (a transaction-level advisory
lock), so two of them never race on the same rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from reporting import kpis
from reporting.models import Statistic
from telephony.calls.models import Call, TelephonySettings
from telephony.models import Queue
from tenants.contracts import DEFAULT_SL_PERCENT
from tenants.models import Client, Contract
from tenants.queue_terms import queue_terms

logger = logging.getLogger(__name__)
INTERVAL = dt.timedelta(minutes=15)


def local_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(_zone(TelephonySettings.current()))


def contract_target(client: Client) -> tuple[int, int]:
    """(SL percent, threshold seconds) of the client company's contract in force (its main queue's,
    the first of its queue terms), else 80 % in 20 s.

    The one reading of a contract's service-level target: the statistics' T, the portal's
    dashboard and the back office's staffing ask it.
    """
    contract = (
        Contract.objects.filter(client=client, in_force__isnull=False).select_related("in_force").first()
    )
    if contract is None:
        return DEFAULT_SL_PERCENT, kpis.DEFAULT_SL_SECONDS
    main = queue_terms(contract.in_force.terms).main  # a contract states its SL per queue: the main one's
    return main.sl_percent, main.sl_seconds


def sl_threshold() -> int:
    """The contract's service-level threshold (T) in force for this client company, else 20 s."""
    return contract_target(connection.tenant)[1]


def queue_targets() -> dict[int, tuple[int, int]]:
    """(SL percent, threshold seconds) of each of this client company's queues, by queue id: its own
    (``Queue.sl_target_percent``, ``Queue.service_level_seconds``, provisioned from its contract row)."""
    queues = Queue.objects.filter(tenant=connection.tenant)
    return {q.pk: (q.sl_target_percent, q.service_level_seconds) for q in queues}


def calls_with_threshold(where: str) -> str:
    """The calls table, rows matching ``where``, each with ``sl_seconds``: the threshold (T) of its own
    queue, for a call without one (or of a queue gone) ``%(sl_seconds)s`` (the main queue's); the
    source ``kpis.CALL_FLAGS`` reads. Parameter ``tenant_id``: this client company's queues only."""
    return (
        f"(SELECT c.*, COALESCE(q.service_level_seconds, %(sl_seconds)s) AS sl_seconds"  # noqa: S608
        f" FROM {Call._meta.db_table} AS c LEFT JOIN {Queue._meta.db_table} AS q"
        f" ON q.id = c.queue_id AND q.tenant_id = %(tenant_id)s WHERE {where}) AS c"
    )


def day_bounds(day: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """A local day as [start, end) aware datetimes (23 or 25 hours on DST changes)."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def call_totals(
    *,
    start: dt.datetime,
    end: dt.datetime,
    sl_seconds: int,
    short_abandon_seconds: int,
    now: dt.datetime | None = None,
) -> kpis.Totals:
    """The counts of the calls started in [start, end), straight from the call records (no
    statistics build needed), by the same SQL definitions; dispositions are not counted. ``now``
    (default: the present) is when calls still waiting are looked at."""
    aggregates = ", ".join(f"{sql} AS {name}" for name, sql in kpis.CALL_AGGREGATES.items())
    sql = (
        f"SELECT {aggregates} FROM (SELECT {kpis.CALL_FLAGS} FROM "  # noqa: S608
        + calls_with_threshold("c.started_at >= %(start)s AND c.started_at < %(end)s")
        + ") AS c"
    )
    params = {
        **kpis.SQL_PARAMETERS,
        "start": start,
        "end": end,
        "sl_seconds": sl_seconds,
        "tenant_id": connection.tenant.pk,
        "short_abandon_seconds": short_abandon_seconds,
        "now": now or timezone.now(),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        counts = cursor.fetchone()
    return kpis.Totals(**dict(zip(kpis.METRICS, (int(c) for c in counts), strict=True)))


def _lock_builds(cursor: CursorWrapper) -> str:
    """One build of this company's statistics at a time (until the transaction ends); the session's
    ``work_mem``."""
    cursor.execute(
        "SELECT pg_advisory_xact_lock(hashtext('reporting.stats'), hashtext(current_schema())),"
        " current_setting('work_mem')"
    )
    return cursor.fetchone()[1]


def rebuild_all() -> int:
    """Every statistics row anew, in the company's time zone as it is now: after a change of zone,
    rows of the old local days would otherwise stay beside the new ones (a day counted twice).
    Rows from the first call's local day to today's; rows there now."""
    with transaction.atomic(), connection.cursor() as cursor:
        work_mem = _lock_builds(cursor)
        settings = TelephonySettings.current()
        return _rebuild_all(cursor, work_mem, settings)


def build_days(*, first: dt.date, last: dt.date) -> int:
    """(Re)build interval and daily statistics of the local days ``first``..``last``; rows there now.

    Rows built in another zone than the company's now (the rebuild its change sent was lost, or
    failed) are all rebuilt instead, whatever the range: a build never mixes two zones' days."""
    with transaction.atomic(), connection.cursor() as cursor:
        # One build of this company's statistics at a time: the plain INSERT below cannot race.
        work_mem = _lock_builds(cursor)
        settings = TelephonySettings.current()
        if settings.statistics_zone and settings.statistics_zone != _zone(settings):
            logger.warning("statistics built in %s, the company's zone is %s: all rebuilt",
                           settings.statistics_zone, _zone(settings))  # fmt: skip
            return _rebuild_all(cursor, work_mem, settings)
        rows = _build(cursor, work_mem, settings, first=first, last=last)
        if not settings.statistics_zone:  # the first build
            _built_in(settings)
        return rows


def _zone(settings: TelephonySettings) -> str:
    return settings.timezone or "UTC"


def _built_in(settings: TelephonySettings) -> None:
    """The rows are in the company's zone now. Written last: the settings row stays locked from
    here to the build's commit, not for the whole build (admins save the settings meanwhile)."""
    TelephonySettings.objects.filter(pk=settings.pk).update(statistics_zone=_zone(settings))


def _rebuild_all(cursor: CursorWrapper, work_mem: str, settings: TelephonySettings) -> int:
    """``rebuild_all`` inside the build's lock."""
    zone = zoneinfo.ZoneInfo(_zone(settings))
    Statistic.objects.filter(
        granularity__in=[Statistic.Granularity.INTERVAL, Statistic.Granularity.DAY]
    ).delete()
    first = Call.objects.order_by("started_at").values_list("started_at", flat=True).first()
    rows = 0
    if first is not None:
        first_day, today = first.astimezone(zone).date(), timezone.now().astimezone(zone).date()
        rows = _build(cursor, work_mem, settings, first=first_day, last=today)
    _built_in(settings)
    return rows


def _build(
    cursor: CursorWrapper, work_mem: str, settings: TelephonySettings, *, first: dt.date, last: dt.date
) -> int:
    """The local days ``first``..``last`` in the company's zone, inside the build's lock."""
    zone = zoneinfo.ZoneInfo(_zone(settings))
    start, _ = day_bounds(first, zone)
    _, end = day_bounds(last, zone)
    cursor.execute(
        f"SELECT disposition FROM {Call._meta.db_table}"  # noqa: S608 (our table name only)
        " WHERE started_at >= %s AND started_at < %s AND disposition <> ''"
        " GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT %s",
        [start, end, INLINE_DISPOSITIONS],
    )
    inline = [row[0] for row in cursor.fetchall()]
    sql, params = _statement(inline)
    params |= {
        "start": start,
        "end": end,
        "zone": str(zone),
        "sl_seconds": sl_threshold(),  # a call without a queue; the others: their queue's
        "tenant_id": connection.tenant.pk,
        "short_abandon_seconds": settings.short_abandon_seconds,
        "now": timezone.now(),
    }
    # The 15-minute rows of a month per operator fit in memory: no hash batches on disk.
    cursor.execute("SELECT set_config('work_mem', %s, true)", [BUILD_WORK_MEM])
    cursor.execute(sql, params)
    rows, inserted, updated, deleted = cursor.fetchone()
    cursor.execute("SELECT set_config('work_mem', %s, true)", [work_mem])
    logger.debug(
        "statistics %s..%s: %s rows (%s new, %s changed, %s gone)",
        first,
        last,
        rows,
        inserted,
        updated,
        deleted,
    )
    return rows


# A call's disposition is counted in a column of its own when it is one of the range's most used
# (operators choose from a short list); any other goes through a (normally empty) side aggregate.
INLINE_DISPOSITIONS = 12
BUILD_WORK_MEM = "256MB"
_BUCKET = "date_bin('15 minutes', started_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
# What the definitions ask of a call (``kpis.CALL_FLAGS``), computed once per call, with what the rows
# are grouped by; the aggregates (``kpis.CALL_AGGREGATES``) only read these.
_FLAGS = f"""
    {_BUCKET} AS period, COALESCE(queue_id, 0) AS queue_key, queue_name, operator_id, operator_name,
    disposition, {kpis.CALL_FLAGS}"""
_KEY = ("granularity", "dimension", "period_start", "key")
_VALUES = ("day", "name", "sl_seconds", "short_abandon_seconds", *kpis.METRICS, "dispositions")


def _statement(inline: list[str]) -> tuple[str, dict[str, object]]:
    """The whole build as one statement (see the module docstring), with its constant parameters.

    Only our table names, column names and the fixed texts above are interpolated; values,
    dispositions included, go as parameters.
    """
    calls, table = Call._meta.db_table, Statistic._meta.db_table
    params: dict[str, object] = {
        **kpis.SQL_PARAMETERS,
        "interval": Statistic.Granularity.INTERVAL,
        "day": Statistic.Granularity.DAY,
        "queue": Statistic.Dimension.QUEUE,
        "operator": Statistic.Dimension.OPERATOR,
        "inline": inline,
    }
    params |= {f"d{i}": code for i, code in enumerate(inline)}
    counts = [*kpis.METRICS, *(f"d{i}" for i in range(len(inline)))]
    aggregates = ", ".join(
        [f"{sql} AS {name}" for name, sql in kpis.CALL_AGGREGATES.items()]
        + [f"count(*) FILTER (WHERE disposition = %(d{i})s) AS d{i}" for i in range(len(inline))]
    )
    in_range = "started_at >= %(start)s AND started_at < %(end)s"
    in_range_c = "c.started_at >= %(start)s AND c.started_at < %(end)s"
    inline_sum = " + ".join(["0", *(f"d{i}" for i in range(len(inline)))])
    inline_json = (
        "jsonb_strip_nulls(jsonb_build_object("
        + ", ".join(f"%(d{i})s::text, NULLIF(r.d{i}, 0)" for i in range(len(inline)))
        + "))"
        if inline
        else "'{}'::jsonb"
    )

    def rows(granularity: str, source: str, others: str) -> str:
        return f"""
        SELECT %({granularity})s::text AS granularity, r.dimension, r.period AS period_start, r.key,
               (r.period AT TIME ZONE %(zone)s)::date AS day, COALESCE(r.name, '') AS name,
               r.sl_seconds::int AS sl_seconds, %(short_abandon_seconds)s::int AS short_abandon_seconds,
               {", ".join(f"r.{m}" for m in kpis.METRICS)},
               {inline_json} || COALESCE(o.counts, '{{}}'::jsonb) AS dispositions
        FROM {source} AS r LEFT JOIN (
            SELECT period, dimension, key, jsonb_object_agg(disposition, n) AS counts
            FROM {others} GROUP BY 1, 2, 3
        ) AS o USING (period, dimension, key)"""  # noqa: S608

    same = " AND ".join(f"e.{c} = n.{c}" for c in _KEY)
    changed = " OR ".join(f"e.{c} IS DISTINCT FROM n.{c}" for c in _VALUES)
    columns = ", ".join([*_KEY, *_VALUES])
    sql = f"""
    WITH intervals AS MATERIALIZED (
        -- OFFSET 0 keeps each call's flags computed once, not inlined into every aggregate.
        -- Each call against its own queue's threshold (T): a queue's row has its queue's T; an
        -- operator's row (calls of several queues) the longest of theirs.
        SELECT period, %(queue)s::text AS dimension, queue_key AS key, max(queue_name) AS name,
               max(sl_seconds) AS sl_seconds, {aggregates},
               count(*) FILTER (WHERE disposition <> '') AS disposed
        FROM (SELECT {_FLAGS} FROM {calls_with_threshold(in_range_c)} OFFSET 0) AS c GROUP BY 1, 3
        UNION ALL
        SELECT period, %(operator)s::text, operator_id, max(operator_name), max(sl_seconds), {aggregates}, 0
        FROM (SELECT {_FLAGS} FROM {calls_with_threshold(in_range_c + " AND c.operator_id IS NOT NULL")}
              OFFSET 0) AS c
        GROUP BY 1, 3
    ),
    other_calls AS MATERIALIZED (
        -- Calls with a disposition not counted inline; the scan is skipped when there are none.
        SELECT {_BUCKET} AS period, COALESCE(queue_id, 0) AS queue_key, operator_id, disposition
        FROM {calls}
        WHERE {in_range} AND disposition <> '' AND disposition <> ALL(%(inline)s::text[])
          AND EXISTS (SELECT FROM intervals WHERE disposed > {inline_sum})
    ),
    others AS (
        SELECT period, %(queue)s::text AS dimension, queue_key AS key, disposition, count(*) AS n
        FROM other_calls GROUP BY 1, 3, 4
        UNION ALL
        SELECT period, %(operator)s::text, operator_id, disposition, count(*)
        FROM other_calls WHERE operator_id IS NOT NULL GROUP BY 1, 3, 4
    ),
    days AS (
        -- Every zone's midnight falls on a quarter hour: a day is the sum of its 15-minute rows.
        SELECT date_trunc('day', period, %(zone)s) AS period, dimension, key, max(name) AS name,
               max(sl_seconds) AS sl_seconds, {", ".join(f"sum({c})::bigint AS {c}" for c in counts)}
        FROM intervals GROUP BY 1, 2, 3
    ),
    other_days AS (
        SELECT date_trunc('day', period, %(zone)s) AS period, dimension, key, disposition,
               sum(n)::bigint AS n
        FROM others GROUP BY 1, 2, 3, 4
    ),
    new AS (
        {rows("interval", "intervals", "others")}
        UNION ALL
        {rows("day", "days", "other_days")}
    ),
    existing AS (
        SELECT id, {columns} FROM {table}
        WHERE granularity IN (%(interval)s, %(day)s) AND dimension IN (%(queue)s, %(operator)s)
          AND period_start >= %(start)s AND period_start < %(end)s
    ),
    plan AS MATERIALIZED (
        SELECT n.*, e.id AS existing_id, ({changed}) AS changed
        FROM new AS n FULL JOIN existing AS e ON {same}
    ),
    inserted AS (
        -- Under the lock nobody else writes these keys: a plain INSERT, the cheapest write.
        INSERT INTO {table} ({columns}, built_at)
        SELECT {columns}, statement_timestamp() FROM plan WHERE existing_id IS NULL
        RETURNING 1
    ),
    updated AS (
        -- Rows are found through the unique index, whatever the planner thinks of the table's size.
        INSERT INTO {table} ({columns}, built_at)
        SELECT {columns}, statement_timestamp() FROM plan
        WHERE existing_id IS NOT NULL AND granularity IS NOT NULL AND changed
        ON CONFLICT ({", ".join(_KEY)}) DO UPDATE SET
            {", ".join(f"{c} = EXCLUDED.{c}" for c in _VALUES)}, built_at = EXCLUDED.built_at
        RETURNING 1
    ),
    deleted AS (
        DELETE FROM {table}
        WHERE id = ANY(ARRAY(SELECT existing_id FROM plan WHERE granularity IS NULL))
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM plan WHERE granularity IS NOT NULL), (SELECT count(*) FROM inserted),
           (SELECT count(*) FROM updated), (SELECT count(*) FROM deleted)
    """  # noqa: S608
    return sql, params
