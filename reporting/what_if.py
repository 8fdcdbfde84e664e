"""The staffing what-if: operators needed for figures typed in (calls per 15 minutes, handling time,
target, callers' patience), by Erlang C and, with a patience, Erlang A; and how the service
changes with a few operators fewer or more. Pure: plain numbers in, plain numbers out."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django import forms

from reporting import staffing

INTERVAL_SECONDS = 15 * 60
MOST_AGENTS = 2_000


class WhatIfForm(forms.Form):
    calls = forms.DecimalField(
        label="Calls per 15 minutes", min_value=0, max_value=20_000, decimal_places=1, initial=10
    )
    aht_seconds = forms.IntegerField(
        label="Handling time (AHT, s)", min_value=1, max_value=7_200, initial=180
    )
    sl_percent = forms.IntegerField(label="Target SL %", min_value=1, max_value=99, initial=80)
    sl_seconds = forms.IntegerField(label="…within seconds", min_value=1, max_value=600, initial=20)
    patience_seconds = forms.IntegerField(
        label="Patience (s)", min_value=1, max_value=7_200, required=False,
        help_text="How long callers wait before hanging up, on average; empty: Erlang C only.",
    )  # fmt: skip


@dataclass(frozen=True)
class Row:
    agents: int
    service_level: float | None  # Erlang C
    asa_seconds: float | None
    occupancy: float
    service_level_a: float | None = None  # Erlang A
    abandon_a: float | None = None


@dataclass(frozen=True)
class WhatIf:
    erlangs: float
    needed: int
    needed_a: int | None
    rows: list[Row]


def what_if(
    *, calls: float, aht_seconds: float, sl_percent: int, sl_seconds: int, patience_seconds: float | None
) -> WhatIf:
    """Operators needed and, around that number, the service each staffing gives."""
    target = sl_percent / 100
    if calls <= 0:
        return WhatIf(erlangs=0.0, needed=0, needed_a=0 if patience_seconds else None, rows=[])
    erlangs = staffing.traffic_intensity(
        calls=calls, interval_seconds=INTERVAL_SECONDS, aht_seconds=aht_seconds
    )
    if erlangs >= MOST_AGENTS:
        raise ValueError(f"More than {MOST_AGENTS} operators would be needed: check the figures.")
    needed = staffing.agents_needed(
        calls=calls, interval_seconds=INTERVAL_SECONDS, aht_seconds=aht_seconds, target_sl=target,
        threshold_seconds=sl_seconds, max_agents=MOST_AGENTS,
    ).agents  # fmt: skip
    needed_a = None
    if patience_seconds:
        needed_a = staffing.agents_needed_with_abandonment(
            calls=calls, interval_seconds=INTERVAL_SECONDS, aht_seconds=aht_seconds,
            patience_seconds=patience_seconds, target_sl=target, threshold_seconds=sl_seconds,
            max_agents=MOST_AGENTS,
        ).agents  # fmt: skip
    low = max(1, min(needed, needed_a or needed) - 2)
    high = max(needed, needed_a or 0) + 2
    rows = []
    for agents in range(low, high + 1):
        stable = agents > erlangs
        sl = (
            staffing.service_level(
                agents=agents, erlangs=erlangs, aht_seconds=aht_seconds, threshold_seconds=sl_seconds
            )
            if stable
            else None
        )
        asa = (
            staffing.average_speed_of_answer(agents=agents, erlangs=erlangs, aht_seconds=aht_seconds)
            if stable
            else None
        )
        row = Row(
            agents=agents, service_level=sl,
            asa_seconds=None if asa is None or math.isinf(asa) else asa,
            occupancy=min(1.0, erlangs / agents),
        )  # fmt: skip
        if patience_seconds:
            a = staffing.erlang_a(
                agents=agents, erlangs=erlangs, aht_seconds=aht_seconds, patience_seconds=patience_seconds,
                threshold_seconds=sl_seconds,
            )  # fmt: skip
            row = Row(
                **{
                    **row.__dict__,
                    "service_level_a": a.service_level,
                    "abandon_a": a.probability_of_abandoning,
                }
            )
        rows.append(row)
    return WhatIf(erlangs=erlangs, needed=needed, needed_a=needed_a, rows=rows)
