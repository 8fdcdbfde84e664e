"""The supervisors' wallboard: every company's queues and the shared operators, live (R20, R23).

Cross-tenant by design: it reads only the router's public tables (waiting calls, reservations,
operators, their events), never a company's schema, so one snapshot costs a handful of queries
whatever the number of companies, plus one query for the companies' time zones (cached briefly).
Definitions follow docs/architecture.md §7, on today's calls, where a queue's "today" is its
company's local day (``TelephonySettings.timezone``) and an operator's is the center's (``TIME_ZONE``):
- service level: answered within the queue's threshold / (offered - short abandons);
- abandon rate: (abandoned - short abandons) / (offered - short abandons); abandoned = left the
  queue unanswered with outcome ``abandoned``, short = waited ≤ the company's short-abandon time;
- AHT here: mean time from answer to the end of the call (the wrap-up time lives in each
  company's call records; the reports of ``reporting/`` add it);
- occupancy: time on a call or in wrap-up / (that + time available), from the operator's events.
Alerts use each queue's own thresholds (``Queue.alert_*``, edited in the admin with the queue).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from config.process_cache import ProcessCache
from console import wallboard_fairness
from console.supervision_board import unscoped_live_calls
from reporting import kpis
from telephony.calls.models import TelephonySettings
from telephony.models import CompanyDaySettings, Queue
from telephony.operators import record
from telephony.routing import profile_set_state
from telephony.routing_models import OperatorEvent, OperatorProfile, OperatorState, Reservation, WaitingCall
from tenants.models import Client

SHORT_ABANDON_SECONDS = 5  # when a company has no telephony settings yet
STATE_ALERT_SECONDS = {OperatorState.WRAP_UP: 120, OperatorState.BREAK: 1800, OperatorState.RESERVED: 60}
BUSY = {OperatorState.ON_CALL, OperatorState.WRAP_UP}
COMPANY_SETTINGS_SECONDS = 30.0


@dataclass(frozen=True)
class CompanyDay:
    tz: dt.tzinfo
    short_abandon_seconds: int


def forget_company_settings() -> None:
    """Drop the kept time zones (a changed time zone shows within ``COMPANY_SETTINGS_SECONDS``)."""
    COMPANY_DAYS.invalidate()


def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _load_company_days() -> dict[str, CompanyDay]:
    """Every company's time zone and short-abandon time, in one query on public.

    Cross-tenant on purpose (the wallboard shows every company), through the copy each company's
    settings keep in public (``telephony.models.CompanyDaySettings``): a read over every schema took two
    locks per company and would fill the lock table past a few thousand companies."""
    schemas = Client.objects.companies().values_list("schema_name", flat=True)
    rows = {
        schema: (tz, short)
        for schema, tz, short in CompanyDaySettings.objects.values_list(
            "tenant__schema_name", "timezone", "short_abandon_seconds"
        )
    }
    return {
        schema: CompanyDay(tz=_zone(tz), short_abandon_seconds=short)
        for schema, (tz, short) in ((s, rows.get(s, ("UTC", SHORT_ABANDON_SECONDS))) for s in schemas)
    }


COMPANY_DAYS: ProcessCache[str, CompanyDay] = ProcessCache(
    ttl=COMPANY_SETTINGS_SECONDS, load_all=_load_company_days, miss_reload_seconds=0
).invalidate_on_save(TelephonySettings)


def unscoped_company_days(schemas: set[str]) -> dict[str, CompanyDay]:
    """Each company's time zone and short-abandon time, kept per process for
    ``COMPANY_SETTINGS_SECONDS`` (``config.process_cache``); a company not seen yet reloads them."""
    days = COMPANY_DAYS.snapshot()
    missing = schemas - days.keys()
    if missing:  # a company created since the last read
        days = COMPANY_DAYS.snapshot(want=next(iter(missing)))
    default = CompanyDay(tz=dt.UTC, short_abandon_seconds=SHORT_ABANDON_SECONDS)
    return {schema: days.get(schema, default) for schema in schemas}


def _day_start(now: datetime, tz: dt.tzinfo | None = None) -> datetime:
    """Midnight of ``now``'s day in ``tz`` (the center's time zone by default)."""
    local = timezone.localtime(now, tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _queue_alerts(queue: Queue, row: dict[str, Any]) -> list[str]:
    """The queue's thresholds that today's figures cross (R20); each threshold left blank is off."""
    alerts = []
    wait_limit = queue.alert_wait_seconds or row["sl_seconds"]
    if row["waiting"] and row["longest_wait"] > wait_limit:
        alerts.append(f"Longest wait {row['longest_wait']} s is over the {wait_limit} s target")
    if queue.alert_waiting_calls is not None and row["waiting"] > queue.alert_waiting_calls:
        alerts.append(f"{row['waiting']} waiting, over the limit of {queue.alert_waiting_calls}")
    if (
        queue.alert_service_level is not None
        and row["service_level"] is not None
        and row["service_level"] < queue.alert_service_level
    ):
        alerts.append(f"Service level {row['service_level']}% is under {queue.alert_service_level}%")
    if (
        queue.alert_abandon_rate is not None
        and row["abandon_rate"] is not None
        and row["abandon_rate"] > queue.alert_abandon_rate
    ):
        alerts.append(f"Abandon rate {row['abandon_rate']}% is over {queue.alert_abandon_rate}%")
    return alerts


def _queues(now: datetime, *, tenant_id: int | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    alerts: list[str] = []
    rows: dict[int, dict[str, Any]] = {}
    found = Queue.objects.select_related("tenant").order_by("tenant__name", "name")
    if tenant_id is not None:
        found = found.filter(tenant_id=tenant_id)
    queues = {q.pk: q for q in found}
    days = unscoped_company_days({q.tenant.schema_name for q in queues.values()})
    for queue in queues.values():
        day = days[queue.tenant.schema_name]
        rows[queue.pk] = {
            "id": queue.pk, "tenant": queue.tenant.name, "brand_color": queue.tenant.brand_color,
            "queue": queue.name, "waiting": 0, "longest_wait": 0, "offered": 0, "answered": 0,
            "within": 0, "abandoned": 0, "short": 0, "sl_seconds": queue.service_level_seconds,
            "max_wait": queue.max_wait, "since": _day_start(now, day.tz),
            "short_seconds": day.short_abandon_seconds,
        }  # fmt: skip
    # The earliest local midnight of all companies: each row then keeps only its own day.
    earliest = min((row["since"] for row in rows.values()), default=_day_start(now))
    today = WaitingCall.objects.filter(
        Q(enqueued_at__gte=earliest) | Q(state__in=["waiting", "reserved"])
    ).exclude(direction=WaitingCall.Direction.OUTBOUND)  # no queue's offered calls
    if tenant_id is not None:
        today = today.filter(queue_id__in=list(queues))
    for queue_id, state, enqueued, answered, left, outcome in today.values_list(
        "queue_id", "state", "enqueued_at", "answered_at", "left_at", "outcome"
    ):
        row = rows.get(queue_id)
        if row is None:
            continue
        if state in ("waiting", "reserved"):
            row["waiting"] += 1
            row["longest_wait"] = max(row["longest_wait"], int((now - enqueued).total_seconds()))
        if enqueued < row["since"]:
            continue
        waited = kpis.milliseconds(now - enqueued)
        if state in ("waiting", "reserved") and not kpis.waiting_counts_as_offered(
            waited_ms=waited, sl_seconds=row["sl_seconds"]
        ):
            continue  # may still be answered within T: not a miss yet
        row["offered"] += 1
        if answered is not None:
            row["answered"] += 1
            row["within"] += (answered - enqueued).total_seconds() <= row["sl_seconds"]
        elif outcome == "abandoned":
            row["abandoned"] += 1
            row["short"] += left is not None and (left - enqueued).total_seconds() <= row["short_seconds"]
    result = []
    for row in rows.values():
        counts = {"offered": row["offered"], "short_abandons": row["short"]}
        row["service_level"] = _percent(kpis.service_level(answered_within_sl=row["within"], **counts))
        row["abandon_rate"] = _percent(kpis.abandon_rate(abandoned=row["abandoned"], **counts))
        crossed = _queue_alerts(queues[row["id"]], row)
        row["alert"] = "; ".join(crossed)
        alerts.extend(f"{row['tenant']} / {row['queue']}: {alert}" for alert in crossed)
        row["since"] = row["since"].isoformat()
        del row["short_seconds"]
        if row["offered"] or row["waiting"]:
            result.append(row)
    return result, alerts


def _percent(rate: float | None) -> int | None:
    return round(100 * rate) if rate is not None else None


def _operators(now: datetime, since: datetime) -> tuple[list[dict[str, Any]], list[str]]:
    alerts: list[str] = []
    everyone = OperatorProfile.objects.select_related("user")
    profiles = list(everyone.exclude(state=OperatorState.OFFLINE, state_since__lt=since))
    ids = [p.pk for p in profiles]
    events: dict[int, list[tuple[str, datetime]]] = {}
    for op, state, at in (
        OperatorEvent.objects.filter(operator_id__in=ids, at__gte=since)
        .exclude(state="")
        .order_by("at", "id")
        .values_list("operator_id", "state", "at")
    ):
        events.setdefault(op, []).append((state, at))
    before = dict(  # the state each was in at midnight: a night shift counts from midnight
        OperatorEvent.objects.filter(operator_id__in=ids, at__lt=since)
        .exclude(state="")
        .order_by("operator_id", "-at", "-id")
        .distinct("operator_id")
        .values_list("operator_id", "state")
    )
    handled: dict[int, list[float]] = {}
    for op, answered, left in WaitingCall.objects.filter(
        operator_id__in=ids, answered_at__gte=since, left_at__isnull=False
    ).values_list("operator_id", "answered_at", "left_at"):
        handled.setdefault(op, []).append((left - answered).total_seconds())
    missed: dict[int, int] = {}
    expired = Reservation.objects.filter(operator_id__in=ids, offered_at__gte=since, state="expired")
    for op in expired.values_list("operator_id", flat=True):
        missed[op] = missed.get(op, 0) + 1
    rows = []
    for p in sorted(profiles, key=lambda p: p.user.username):
        in_state = int((now - p.state_since).total_seconds())
        busy, idle = kpis.operator_seconds(
            events.get(p.pk, []), state_before=before.get(p.pk), since=since, until=now
        )
        times = handled.get(p.pk, [])
        row = {
            "id": p.pk, "name": p.user.get_full_name() or p.user.username, "state": p.state,
            "reason": p.break_reason, "in_state": in_state, "handled": len(times),
            "aht": round(sum(times) / len(times)) if times else None,
            "occupancy": _percent(kpis.occupancy(handle_seconds=busy, idle_seconds=idle)),
            "missed": missed.get(p.pk, 0), "alert": "",
        }  # fmt: skip
        limit = STATE_ALERT_SECONDS.get(p.state)
        if limit and in_state > limit:
            row["alert"] = f"{p.get_state_display()} for {in_state // 60} min"
            alerts.append(f"{row['name']}: {row['alert']}")
        rows.append(row)
    return rows, alerts


def snapshot(*, now: datetime | None = None) -> dict[str, Any]:
    """Everything the wallboard shows, as JSON-ready data (cross-tenant: supervisors only)."""
    now = now or timezone.now()
    queues, queue_alerts = _queues(now)
    operators, operator_alerts = _operators(now, _day_start(now))
    return {
        "type": "snapshot", "at": now.isoformat(), "queues": queues, "operators": operators,
        "alerts": queue_alerts + operator_alerts, "calls": unscoped_live_calls(now=now),
        "fairness": wallboard_fairness.panel(now=now, queues=queues),  # the contracts (issue 20)
    }  # fmt: skip


def queues_today(now: datetime, *, tenant_id: int | None = None) -> list[dict[str, Any]]:
    """Every queue's figures of today (one company's only, read from its own queues and calls,
    with ``tenant_id``), as the wallboard shows them (for the back office)."""
    return _queues(now, tenant_id=tenant_id)[0]


FORCEABLE = {OperatorState.AVAILABLE, OperatorState.BREAK, OperatorState.OFFLINE}


def force_state(*, supervisor, operator_id: int, state: str) -> OperatorProfile:
    """A supervisor sets an operator's state (e.g. logs out a forgotten session: its offer re-routes).

    Forcing offline also completes an accepted call's reservation, as the operator's own logout does.
    """
    if state not in FORCEABLE:
        raise ValueError("A supervisor may set available, break or offline.")
    reason = "set by supervisor" if state == OperatorState.BREAK else ""
    profile = profile_set_state(profile_id=operator_id, state=state, reason=reason)
    record(operator_id=operator_id, kind="forced", state=profile.state, reason=f"by {supervisor.username}",
           now=timezone.now() + timedelta(microseconds=1))  # fmt: skip
    return profile
