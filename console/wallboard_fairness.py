"""The wallboard's panel of contracts (issue 20): per company queue, its service-level target, the
service level achieved live (the router's sliding window) and today (the wallboard's own figure,
§7), the seats in use against those reserved and the cap, and which company the router favours
now and why. The same figures feed the back office's page per contract
(``console.contract_views``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from telephony.routing import standing


def panel(*, now: datetime, queues: list[dict[str, Any]], tenant_id: int | None = None) -> dict[str, Any]:
    """JSON-ready: ``rows`` (queues with calls, seats, terms or calls today; one company's only
    with ``tenant_id``) and ``favoured`` (the queue whose call the next free operator takes, of
    whichever company, with the reason; None when nobody waits). ``queues``: the wallboard's rows
    of today (for today's service level). For staff: it names other companies."""
    view = standing.now_favoured(now)
    today = {q["id"]: q["service_level"] for q in queues}
    every = standing.figures(view)
    rows = [
        {**row, "sl_today": today.get(row["queue_id"])}
        for row in every
        if (row["active"] or row["queue_id"] in today) and tenant_id in (None, row["tenant_id"])
    ]
    chosen = next((row for row in every if row["favoured"]), None)
    favoured = None
    if chosen is not None:
        favoured = {
            "tenant": chosen["tenant"], "tenant_id": chosen["tenant_id"], "queue": chosen["queue"],
            "kind": view.favoured_kind, "reason": view.reason,
        }  # fmt: skip
    return {"rows": rows, "favoured": favoured}
