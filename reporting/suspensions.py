"""Days a client company was suspended, and the billed periods without them (docs/billing.md).

A suspension runs from the audit event ``client.suspended`` to the next ``client.resumed`` (or
``client.closed``, or on). A local day (the company's time zone) is **suspended** when the
company was suspended for the whole of it; a day with any time in service is a day of service.
Unless the contract version's terms say ``suspended_days_billed: true`` (a suspension for
non-payment that leaves the fees running), suspended days are not days of service: no fee is
prorated for them (and no call is answered then, so none is billed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from django.db import connection

from reporting.stats import day_bounds
from tenants.models import AuditEvent

SUSPENDED, RESUMED, CLOSED = "client.suspended", "client.resumed", "client.closed"


class BilledPeriod(Protocol):
    version: Any  # tenants.models.ContractVersion
    first: dt.date
    last: dt.date


P = TypeVar("P", bound=BilledPeriod)


def suspensions(client_id: int) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """The company's suspensions as [from, until) times (until None: still suspended)."""
    events = (
        AuditEvent.objects.filter(client_id=client_id, action__in=[SUSPENDED, RESUMED, CLOSED])
        .order_by("at", "id")
        .values_list("action", "at")
    )
    spans: list[tuple[dt.datetime, dt.datetime | None]] = []
    since: dt.datetime | None = None
    for action, at in events:
        if action == SUSPENDED and since is None:
            since = at
        elif action != SUSPENDED and since is not None:
            spans.append((since, at))
            since = None
    if since is not None:
        spans.append((since, None))
    return spans


def suspended_days(
    first: dt.date, last: dt.date, zone: zoneinfo.ZoneInfo, *, client_id: int | None = None
) -> set[dt.date]:
    """The local days of ``first``..``last`` the company was suspended for the whole day."""
    spans = suspensions(client_id if client_id is not None else connection.tenant.pk)
    days: set[dt.date] = set()
    if not spans:
        return days
    day = first
    while day <= last:
        start, end = day_bounds(day, zone)
        if any(since <= start and (until is None or end <= until) for since, until in spans):
            days.add(day)
        day += dt.timedelta(days=1)
    return days


def without_suspended_days(periods: Sequence[P], zone: zoneinfo.ZoneInfo) -> list[P]:
    """``periods`` (with ``version``, ``first`` and ``last``) split around the suspended days,
    except under a version whose terms bill them."""
    if not periods:
        return []
    off = suspended_days(min(p.first for p in periods), max(p.last for p in periods), zone)
    result: list[P] = []
    for period in periods:
        if not off or period.version.terms.get("suspended_days_billed"):
            result.append(period)
            continue
        run_start = None
        day = period.first
        while day <= period.last + dt.timedelta(days=1):
            in_service = day <= period.last and day not in off
            if in_service and run_start is None:
                run_start = day
            elif not in_service and run_start is not None:
                result.append(dataclasses.replace(period, first=run_start, last=day - dt.timedelta(days=1)))
                run_start = None
            day += dt.timedelta(days=1)
    return result
