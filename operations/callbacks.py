"""Callbacks owed to callers, as their lists show them (portal, API, back office, console): when
each is due, how often it was tried and what each try gave. Read in the company's schema; the
back office's list across companies is ``unscoped_due_callbacks``, which says so in its name."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django_tenants.utils import tenant_context

from config.queries import json_key
from telephony.calls.models import Callback, CallEvent, TelephonySettings
from telephony.models import Queue
from tenants import sql
from tenants.models import Client

OPEN = Callback.State.OPEN
FILTERS: dict[str, tuple[str, object]] = {
    "due": ("Due now", lambda now: Q(state=OPEN, due_at__lte=now)),
    "in_line": ("In line, place kept", lambda now: Q(state=Callback.State.IN_LINE)),
    "pending": ("Booked for later", lambda now: Q(state=OPEN, due_at__gt=now)),
    "dialing": ("Being called", lambda now: Q(state=Callback.State.DIALING)),
    "done": ("Done", lambda now: Q(state=Callback.State.DONE)),
    "cancelled": ("Given up", lambda now: Q(state=Callback.State.CANCELLED)),
}


@dataclass(frozen=True)
class Attempt:
    at: dt.datetime
    outcome: str  # answered, busy, no_answer, failed, machine…


@dataclass
class CallbackRow:
    callback: Callback
    queue_name: str
    is_due: bool
    attempts_made: list[Attempt] = field(default_factory=list)

    @property
    def last_outcome(self) -> str:
        return self.attempts_made[-1].outcome if self.attempts_made else ""


def company_zone() -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(TelephonySettings.current().timezone or "UTC")
    except zoneinfo.ZoneInfoNotFoundError:
        return zoneinfo.ZoneInfo("UTC")


def filtered(state: str, *, now: dt.datetime, queue_ids: set[int] | None = None) -> QuerySet[Callback]:
    """This company's callbacks in one of ``FILTERS`` (all for ""), the most urgent first."""
    queryset = Callback.objects.select_related("call")
    if state in FILTERS:
        queryset = queryset.filter(FILTERS[state][1](now))
    if queue_ids is not None:
        queryset = queryset.filter(queue_id__in=queue_ids)
    return queryset.order_by("state", "due_at", "-priority", "pk")


def counts(*, now: dt.datetime, queue_ids: set[int] | None = None) -> dict[str, int]:
    """How many callbacks each filter holds."""
    queryset = (
        Callback.objects.all() if queue_ids is None else Callback.objects.filter(queue_id__in=queue_ids)
    )
    return queryset.aggregate(**{name: Count("pk", filter=rule(now)) for name, (_, rule) in FILTERS.items()})


def attempts_of(ids: list[int]) -> dict[int, list[Attempt]]:
    """Each callback's tries, oldest first: the result events of the calls placed for it (by the
    outbound dialer, or for a callback that kept the caller's place), found through each call's
    ``try_of`` in one query."""
    if not ids:
        return {}
    found: dict[int, list[Attempt]] = {}
    results = CallEvent.objects.filter(kind="callback_result", call__try_of__in=ids).order_by("at", "pk")
    # Each result's whole ``data``, its outcome read here (``config.queries.json_key``).
    for callback_id, at, data in results.values_list("call__try_of", "at", "data"):
        found.setdefault(callback_id, []).append(Attempt(at=at, outcome=str(json_key(data, "outcome") or "")))
    return found


def rows(callbacks: list[Callback], *, now: dt.datetime) -> list[CallbackRow]:
    names = dict(
        Queue.objects.filter(pk__in={c.queue_id for c in callbacks if c.queue_id}).values_list("pk", "name")
    )
    tries = attempts_of([c.pk for c in callbacks])
    return [
        CallbackRow(
            callback=c,
            queue_name=names.get(c.queue_id, "default queue") if c.queue_id else "default queue",
            is_due=c.state == OPEN and c.due_at <= now,
            attempts_made=tries.get(c.pk, []),
        )
        for c in callbacks
    ]


@dataclass(frozen=True)
class CompanyCallbacks:
    company: Client
    counts: dict[str, int]
    due: list[CallbackRow]
    zone: zoneinfo.ZoneInfo

    @property
    def tallies(self) -> list[tuple[str, int]]:
        return [(label, self.counts[name]) for name, (label, _) in FILTERS.items()]


URGENT = [OPEN, Callback.State.IN_LINE, Callback.State.DIALING]
URGENT_WITHIN = dt.timedelta(hours=1)


def _urgent(now: dt.datetime) -> Q:
    return Q(state__in=URGENT, due_at__lte=now + URGENT_WITHIN)


def unscoped_with_urgent_callbacks(
    companies: list[Client], *, now: dt.datetime, queue_ids: set[int] | None = None
) -> set[str]:
    """The schemas of ``companies`` holding a callback due within the hour or being called (of
    ``queue_ids`` when given): one ``UNION ALL`` statement for each ``sql.SCHEMAS_A_STATEMENT``
    schemas, not a visit to every company (issue 23)."""
    table, quote = Callback._meta.db_table, connection.ops.quote_name
    shared = {
        "states": [str(s) for s in URGENT],
        "until": now + URGENT_WITHIN,
        "queues": list(queue_ids or []),
    }
    with connection.cursor() as cursor:  # (a company whose schema is not made yet has no callbacks)
        schemas = sorted(
            sql.schemas_with_table(cursor, schemas=[c.schema_name for c in companies], table=table)
        )
        found: set[str] = set()
        for batch in sql.batches(schemas):
            mine = "" if queue_ids is None else " AND queue_id = ANY(%(queues)s)"
            parts = [
                f"SELECT %(s{i})s WHERE EXISTS (SELECT 1 FROM {quote(schema)}.{quote(table)}"  # noqa: S608
                f" WHERE state = ANY(%(states)s) AND due_at <= %(until)s{mine})"
                for i, schema in enumerate(batch)
            ]
            cursor.execute(" UNION ALL ".join(parts), {**shared, **{f"s{i}": s for i, s in enumerate(batch)}})
            found.update(row[0] for row in cursor.fetchall())
    return found


def unscoped_due_callbacks(*, queue_ids: set[int] | None = None, limit: int = 20) -> list[CompanyCallbacks]:
    """The active companies with a callback due within the hour or being called, found in one
    statement per batch of schemas (``unscoped_with_urgent_callbacks``), then each read in its own
    schema: the counts and those callbacks; ``queue_ids`` keeps to those queues (an operator's
    skills)."""
    now = timezone.now()
    companies = Client.objects.companies().filter(status=Client.Status.ACTIVE).order_by("name")
    if queue_ids is not None:
        companies = companies.filter(queues__in=queue_ids).distinct()
    companies = list(companies)
    urgent_in = unscoped_with_urgent_callbacks(companies, now=now, queue_ids=queue_ids)
    found = []
    for company in (c for c in companies if c.schema_name in urgent_in):
        with tenant_context(company):
            own = None if queue_ids is None else set(
                Queue.objects.filter(tenant=company, pk__in=queue_ids).values_list("pk", flat=True)
            )  # fmt: skip
            urgent = filtered("", now=now, queue_ids=own).filter(_urgent(now))
            found.append(
                CompanyCallbacks(
                    company=company,
                    counts=counts(now=now, queue_ids=own),
                    due=rows(list(urgent[:limit]), now=now),
                    zone=company_zone(),
                )
            )
    return found
