"""Per operator, platform-wide (operators serve every client company): occupancy and adherence to
their planned shifts over a period, from their state history (definitions in ``reporting.kpis``)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from operations.models import Shift
from reporting import kpis, stats
from reporting.platform import platform_zone
from telephony.routing_models import OperatorEvent, OperatorProfile, OperatorState


@dataclass(frozen=True)
class OperatorOccupancy:
    operator_id: int
    name: str
    handling_seconds: float
    idle_seconds: float
    adherent_seconds: float = 0.0
    scheduled_seconds: float = 0.0

    @property
    def occupancy(self) -> float | None:
        return kpis.occupancy(handle_seconds=self.handling_seconds, idle_seconds=self.idle_seconds)

    @property
    def adherence(self) -> float | None:
        return kpis.adherence(
            adherent_seconds=self.adherent_seconds, scheduled_seconds=self.scheduled_seconds
        )


def unscoped_operator_occupancy(
    *, first: dt.date, last: dt.date, now: dt.datetime | None = None
) -> list[OperatorOccupancy]:
    """Each operator's occupancy and adherence to their shifts over the platform's local days
    ``first``..``last`` (up to ``now``), from their state history: the state each was in when the
    period began counts from its first second (``kpis.operator_seconds``)."""
    start, _ = stats.day_bounds(first, platform_zone())
    _, end = stats.day_bounds(last, platform_zone())
    end = min(end, now) if now else end
    events = OperatorEvent.objects.exclude(state="")
    before = dict(
        events.filter(at__lt=start)
        .order_by("operator_id", "-at", "-id")
        .distinct("operator_id")
        .values_list("operator_id", "state")
    )
    during: dict[int, list[tuple[str, dt.datetime]]] = defaultdict(list)
    for operator_id, state, at in events.filter(at__gte=start, at__lt=end).values_list(
        "operator_id", "state", "at"
    ):
        during[operator_id].append((state, at))
    shifts: dict[int, list[tuple[dt.datetime, dt.datetime, float]]] = defaultdict(list)
    for operator_id, starts, ends, break_minutes in Shift.objects.filter(
        starts_at__lt=end, ends_at__gt=start
    ).values_list("operator_id", "starts_at", "ends_at", "break_minutes"):
        shifts[operator_id].append((starts, ends, break_minutes * 60.0))
    ids = {op for op, state in before.items() if state != OperatorState.OFFLINE} | set(during) | set(shifts)
    profiles = OperatorProfile.objects.filter(pk__in=ids).select_related("user").order_by("user__username")
    rows = []
    for profile in profiles:
        handling, idle = kpis.operator_seconds(
            during.get(profile.pk, []), state_before=before.get(profile.pk), since=start, until=end
        )
        adherent, scheduled = kpis.adherence_seconds(
            during.get(profile.pk, []),
            state_before=before.get(profile.pk),
            shifts=shifts.get(profile.pk, []),
            since=start,
            until=end,
        )
        name = profile.user.get_full_name() or profile.user.username
        rows.append(OperatorOccupancy(profile.pk, name, handling, idle, adherent, scheduled))
    return rows
