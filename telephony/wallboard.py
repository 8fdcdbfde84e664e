"""The supervisors' wallboard: every company's queues and the shared operators, live (R20, R23).

Cross-tenant by design: it reads only the router's public tables (waiting calls, reservations,
operators, their events), never a company's schema, so one snapshot costs a handful of queries
whatever the number of companies. Definitions follow DESIGN.md §7, on today's calls (UTC day):
- service level: answered within the queue's threshold / (offered - short abandons);
- abandon rate: (abandoned - short abandons) / (offered - short abandons); abandoned = left the
  queue unanswered with outcome ``abandoned``, short = waited ≤ ``SHORT_ABANDON_SECONDS``;
- AHT here: mean time from answer to the end of the call (the wrap-up time lives in each
  company's call records; the reports of ``reporting/`` add it);
- occupancy: time on a call or in wrap-up / (that + time available), from the operator's events.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from telephony.models import Queue
from telephony.operators import profile_set_state
from telephony.routing_models import OperatorEvent, OperatorProfile, OperatorState, Reservation, WaitingCall

SHORT_ABANDON_SECONDS = 5
STATE_ALERT_SECONDS = {OperatorState.WRAP_UP: 120, OperatorState.BREAK: 1800, OperatorState.RESERVED: 60}
BUSY = {OperatorState.ON_CALL, OperatorState.WRAP_UP}


def _day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _queues(now: datetime, since: datetime) -> tuple[list[dict[str, Any]], list[str]]:
    alerts: list[str] = []
    rows: dict[int, dict[str, Any]] = {}
    for queue in Queue.objects.select_related("tenant").order_by("tenant__name", "name"):
        rows[queue.pk] = {
            "id": queue.pk, "tenant": queue.tenant.name, "brand_color": queue.tenant.brand_color,
            "queue": queue.name, "waiting": 0, "longest_wait": 0, "offered": 0, "answered": 0,
            "within": 0, "abandoned": 0, "short": 0, "sl_seconds": queue.service_level_seconds,
            "max_wait": queue.max_wait,
        }  # fmt: skip
    today = WaitingCall.objects.filter(Q(enqueued_at__gte=since) | Q(state__in=["waiting", "reserved"]))
    for queue_id, state, enqueued, answered, left, outcome in today.values_list(
        "queue_id", "state", "enqueued_at", "answered_at", "left_at", "outcome"
    ):
        row = rows.get(queue_id)
        if row is None:
            continue
        if state in ("waiting", "reserved"):
            row["waiting"] += 1
            row["longest_wait"] = max(row["longest_wait"], int((now - enqueued).total_seconds()))
        if enqueued < since:
            continue
        row["offered"] += 1
        if answered is not None:
            row["answered"] += 1
            row["within"] += (answered - enqueued).total_seconds() <= row["sl_seconds"]
        elif outcome == "abandoned":
            row["abandoned"] += 1
            row["short"] += left is not None and (left - enqueued).total_seconds() <= SHORT_ABANDON_SECONDS
    result = []
    for row in rows.values():
        base = row["offered"] - row["short"]
        row["service_level"] = round(100 * row["within"] / base) if base > 0 else None
        row["abandon_rate"] = round(100 * (row["abandoned"] - row["short"]) / base) if base > 0 else None
        row["alert"] = ""
        if row["waiting"] and row["longest_wait"] > row["sl_seconds"]:
            row["alert"] = f"Longest wait {row['longest_wait']} s is over the {row['sl_seconds']} s target"
        elif row["service_level"] is not None and row["service_level"] < 80:
            row["alert"] = f"Service level {row['service_level']}% is under 80%"
        if row["alert"]:
            alerts.append(f"{row['tenant']} / {row['queue']}: {row['alert']}")
        if row["offered"] or row["waiting"]:
            result.append(row)
    return result, alerts


def _occupancy(events: list[tuple[str, datetime]], since: datetime, now: datetime) -> tuple[float, float]:
    """Seconds busy (on a call or wrap-up) and available-idle today, from the state events in order."""
    busy = idle = 0.0
    state, at = None, since
    for next_state, when in events:
        if state is not None:
            span = (when - max(at, since)).total_seconds()
            busy += span if state in BUSY else 0
            idle += span if state == OperatorState.AVAILABLE else 0
        state, at = next_state, when
    if state is not None:
        span = (now - max(at, since)).total_seconds()
        busy += span if state in BUSY else 0
        idle += span if state == OperatorState.AVAILABLE else 0
    return busy, idle


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
        busy, idle = _occupancy(events.get(p.pk, []), since, now)
        times = handled.get(p.pk, [])
        row = {
            "id": p.pk, "name": p.user.get_full_name() or p.user.username, "state": p.state,
            "reason": p.break_reason, "in_state": in_state, "handled": len(times),
            "aht": round(sum(times) / len(times)) if times else None,
            "occupancy": round(100 * busy / (busy + idle)) if busy + idle > 0 else None,
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
    since = _day_start(now)
    queues, queue_alerts = _queues(now, since)
    operators, operator_alerts = _operators(now, since)
    return {
        "type": "snapshot", "at": now.isoformat(), "queues": queues, "operators": operators,
        "alerts": queue_alerts + operator_alerts,
    }  # fmt: skip


FORCEABLE = {OperatorState.AVAILABLE, OperatorState.BREAK, OperatorState.OFFLINE}


def force_state(*, supervisor, operator_id: int, state: str) -> OperatorProfile:
    """A supervisor sets an operator's state (e.g. logs out a forgotten session: its offer re-routes).

    Forcing offline also completes an accepted call's reservation, as the operator's own logout does.
    """
    if state not in FORCEABLE:
        raise ValueError("A supervisor may set available, break or offline.")
    reason = "set by supervisor" if state == OperatorState.BREAK else ""
    profile = profile_set_state(profile_id=operator_id, state=state, reason=reason)
    OperatorEvent.objects.create(
        operator_id=operator_id, at=timezone.now() + timedelta(microseconds=1), kind="forced",
        state=profile.state, reason=f"by {supervisor.username}"[:80],
    )  # fmt: skip
    return profile
