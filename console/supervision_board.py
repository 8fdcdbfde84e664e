"""The wallboard's live calls, for supervisors to listen, whisper or barge (R21).

Cross-tenant by design, like the rest of the wallboard: it reads only the router's public rows
(calls connected to an operator now) and the open supervision sessions, never a company's schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from telephony.routing_models import WaitingCall
from telephony.supervision_models import Monitoring


def unscoped_live_calls(*, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every call connected to an operator now, with who is monitoring it (supervisors only)."""
    now = now or timezone.now()
    calls = list(
        WaitingCall.objects.filter(state=WaitingCall.State.BRIDGED, answered_at__isnull=False, left_at=None)
        .select_related("tenant", "queue", "operator__user")
        .order_by("answered_at")
    )
    monitors: dict[int, list[dict[str, Any]]] = {}
    for session in Monitoring.objects.filter(call__in=calls, ended_at=None).order_by("started_at"):
        monitors.setdefault(session.call_id, []).append(
            {"supervisor": session.supervisor_id, "name": session.supervisor_name, "mode": session.mode}
        )
    return [
        {
            "id": call.pk,
            "tenant": call.tenant.name,
            "brand_color": call.tenant.brand_color,
            "queue": call.queue.name,
            "operator": call.operator.user.get_full_name() or call.operator.user.username
            if call.operator
            else "",
            "talking": int((now - call.answered_at).total_seconds()),
            "monitors": monitors.get(call.pk, []),
        }
        for call in calls
    ]
