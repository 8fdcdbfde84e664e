"""The KPI definitions of docs/architecture.md §7: the one place they are written.

A call counts in the period where it **started**; its fields are those of ``telephony.calls.Call``.
- offered: asked for an operator (it was queued: ``queued_at`` set);
- answered: offered and bridged to an operator (``answered_at`` set);
- abandoned: offered, and the caller hung up waiting (outcome ``abandoned``);
- short abandon: abandoned with ``wait_seconds ≤ short_abandon_seconds`` (5 s by default),
  left out of the service level and the abandon rate;
- answered within T: answered with ``wait_seconds ≤ T`` (T = 20 s by default);
- a missing wait counts as 0 s;
- handled: outcome ``handled``; its handling time is talk + hold + wrap-up;
- IVR: entered when ``ivr_started_at`` is set, contained when the outcome is ``completed_in_ivr``.
Each count is written here twice, side by side: in Python (``call_facts`` and ``totals``) and in
SQL (``CALL_FLAGS`` and ``CALL_AGGREGATES``, with which ``stats`` aggregates the call records in
the database). The rates (``rates``) are ratios of the counts, whichever side counted them.
``tests/reporting/test_kpis_sql.py`` computes every figure both ways from the same calls.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

DEFAULT_SL_SECONDS = 20
DEFAULT_SHORT_ABANDON_SECONDS = 5
# The outcomes and the direction the definitions name (values of ``Call.Outcome``, ``Call.Direction``).
ABANDONED = "abandoned"
HANDLED = "handled"
COMPLETED_IN_IVR = "completed_in_ivr"
CALLBACK_REQUESTED = "callback_requested"
VOICEMAIL = "voicemail"
OUTBOUND = "outbound"


@dataclass(frozen=True)
class CallFacts:
    """What the definitions need to know about one call."""

    started_at: dt.datetime
    direction: str = "inbound"
    queued: bool = False
    answered: bool = False
    outcome: str = ""
    wait_seconds: int | None = None
    talk_seconds: int | None = None
    hold_seconds: int = 0
    wrapup_seconds: int | None = None
    ivr_entered: bool = False
    transferred: bool = False
    disposition: str = ""


def call_facts(call: Any) -> CallFacts:
    """What the definitions see of a call record (a ``Call``, or anything with its fields)."""
    return CallFacts(
        started_at=call.started_at,
        direction=call.direction,
        queued=call.queued_at is not None,
        answered=call.queued_at is not None and call.answered_at is not None,
        outcome=call.outcome,
        wait_seconds=call.wait_seconds,
        talk_seconds=call.talk_seconds,
        hold_seconds=call.hold_seconds,
        wrapup_seconds=call.wrapup_seconds,
        ivr_entered=call.ivr_started_at is not None,
        transferred=bool(call.transferred_to),
        disposition=call.disposition,
    )


@dataclass
class Totals:
    """Counts and sums of one period; every KPI is a ratio of these."""

    calls: int = 0
    offered: int = 0
    answered: int = 0
    answered_within_sl: int = 0
    abandoned: int = 0
    short_abandons: int = 0
    wait_answered_seconds: int = 0
    handled: int = 0
    talk_seconds: int = 0
    hold_seconds: int = 0
    wrapup_seconds: int = 0
    ivr_entered: int = 0
    ivr_contained: int = 0
    transfers: int = 0
    callbacks_requested: int = 0
    voicemails: int = 0
    outbound_attempts: int = 0
    outbound_handled: int = 0
    dispositions: dict[str, int] = field(default_factory=dict)

    @property
    def handle_seconds(self) -> int:
        return self.talk_seconds + self.hold_seconds + self.wrapup_seconds

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# The counts of a period (every field of ``Totals`` but the dispositions): the columns of a
# ``Statistic`` row, in this order.
METRICS = tuple(f.name for f in fields(Totals) if f.name != "dispositions")
# Handling time (``Totals.handle_seconds``) over columns of the same names.
HANDLE_SECONDS_SQL = "talk_seconds + hold_seconds + wrapup_seconds"


def totals(
    calls: Iterable[CallFacts],
    *,
    sl_seconds: int = DEFAULT_SL_SECONDS,
    short_abandon_seconds: int = DEFAULT_SHORT_ABANDON_SECONDS,
) -> Totals:
    """Count one period's calls by the definitions above."""
    t = Totals()
    for c in calls:
        t.calls += 1
        wait = c.wait_seconds or 0
        if c.queued:
            t.offered += 1
            if c.answered:
                t.answered += 1
                t.wait_answered_seconds += wait
                t.answered_within_sl += wait <= sl_seconds
            if c.outcome == ABANDONED:
                t.abandoned += 1
                t.short_abandons += wait <= short_abandon_seconds
        if c.outcome == HANDLED:
            t.handled += 1
            t.talk_seconds += c.talk_seconds or 0
            t.hold_seconds += c.hold_seconds or 0
            t.wrapup_seconds += c.wrapup_seconds or 0
        if c.ivr_entered:
            t.ivr_entered += 1
            t.ivr_contained += c.outcome == COMPLETED_IN_IVR
        t.transfers += c.transferred
        t.callbacks_requested += c.outcome == CALLBACK_REQUESTED
        t.voicemails += c.outcome == VOICEMAIL
        if c.direction == OUTBOUND:
            t.outbound_attempts += 1
            t.outbound_handled += c.outcome == HANDLED
        if c.disposition:
            t.dispositions[c.disposition] = t.dispositions.get(c.disposition, 0) + 1
    return t


# The same counts in SQL. ``CALL_FLAGS`` selects, from a row of the calls table, what the
# definitions ask of that call (``call_facts``); ``CALL_AGGREGATES`` counts a period's flagged
# calls (``totals``). Parameters: ``SQL_PARAMETERS``, ``sl_seconds`` and ``short_abandon_seconds``.
CALL_FLAGS = """
    outcome, talk_seconds, hold_seconds, wrapup_seconds, transferred_to,
    COALESCE(wait_seconds, 0) AS wait,
    queued_at IS NOT NULL AS is_queued,
    queued_at IS NOT NULL AND answered_at IS NOT NULL AS is_answered,
    queued_at IS NOT NULL AND outcome = %(abandoned)s AS is_abandoned,
    outcome = %(handled)s AS is_handled,
    ivr_started_at IS NOT NULL AS is_ivr,
    direction = %(outbound)s AS is_outbound"""
CALL_AGGREGATES = {
    "calls": "count(*)",
    "offered": "count(*) FILTER (WHERE is_queued)",
    "answered": "count(*) FILTER (WHERE is_answered)",
    "answered_within_sl": "count(*) FILTER (WHERE is_answered AND wait <= %(sl_seconds)s)",
    "abandoned": "count(*) FILTER (WHERE is_abandoned)",
    "short_abandons": "count(*) FILTER (WHERE is_abandoned AND wait <= %(short_abandon_seconds)s)",
    "wait_answered_seconds": "COALESCE(sum(wait) FILTER (WHERE is_answered), 0)",
    "handled": "count(*) FILTER (WHERE is_handled)",
    "talk_seconds": "COALESCE(sum(talk_seconds) FILTER (WHERE is_handled), 0)",
    "hold_seconds": "COALESCE(sum(hold_seconds) FILTER (WHERE is_handled), 0)",
    "wrapup_seconds": "COALESCE(sum(wrapup_seconds) FILTER (WHERE is_handled), 0)",
    "ivr_entered": "count(*) FILTER (WHERE is_ivr)",
    "ivr_contained": "count(*) FILTER (WHERE is_ivr AND outcome = %(completed_in_ivr)s)",
    "transfers": "count(*) FILTER (WHERE transferred_to <> '')",
    "callbacks_requested": "count(*) FILTER (WHERE outcome = %(callback_requested)s)",
    "voicemails": "count(*) FILTER (WHERE outcome = %(voicemail)s)",
    "outbound_attempts": "count(*) FILTER (WHERE is_outbound)",
    "outbound_handled": "count(*) FILTER (WHERE is_outbound AND is_handled)",
}
assert tuple(CALL_AGGREGATES) == METRICS
SQL_PARAMETERS = {
    "abandoned": ABANDONED,
    "handled": HANDLED,
    "completed_in_ivr": COMPLETED_IN_IVR,
    "callback_requested": CALLBACK_REQUESTED,
    "voicemail": VOICEMAIL,
    "outbound": OUTBOUND,
}


def _ratio(numerator: float, denominator: float) -> float | None:
    """None when nothing was there to measure (a rate of an empty period is not 0 %)."""
    return numerator / denominator if denominator else None


def service_level(*, answered_within_sl: int, offered: int, short_abandons: int) -> float | None:
    """Answered within T / (offered - short abandons)."""
    return _ratio(answered_within_sl, offered - short_abandons)


def average_speed_of_answer(*, wait_answered_seconds: int, answered: int) -> float | None:
    """Mean wait of answered calls, in seconds."""
    return _ratio(wait_answered_seconds, answered)


def average_handling_time(*, handle_seconds: int, handled: int) -> float | None:
    """Mean talk + hold + wrap-up of handled calls, in seconds."""
    return _ratio(handle_seconds, handled)


def abandon_rate(*, abandoned: int, short_abandons: int, offered: int) -> float | None:
    """(Abandoned - short abandons) / (offered - short abandons)."""
    return _ratio(abandoned - short_abandons, offered - short_abandons)


def occupancy(*, handle_seconds: float, idle_seconds: float) -> float | None:
    """Per operator: handling time / (handling + available-idle time)."""
    return _ratio(handle_seconds, handle_seconds + idle_seconds)


def ivr_containment(*, ivr_contained: int, ivr_entered: int) -> float | None:
    """Calls finished in the automatic part / calls that entered it."""
    return _ratio(ivr_contained, ivr_entered)


def rates(t: Totals) -> dict[str, float | None]:
    """Every ratio KPI of a period's totals."""
    return {
        "service_level": service_level(
            answered_within_sl=t.answered_within_sl, offered=t.offered, short_abandons=t.short_abandons
        ),
        "asa_seconds": average_speed_of_answer(
            wait_answered_seconds=t.wait_answered_seconds, answered=t.answered
        ),
        "aht_seconds": average_handling_time(handle_seconds=t.handle_seconds, handled=t.handled),
        "abandon_rate": abandon_rate(
            abandoned=t.abandoned, short_abandons=t.short_abandons, offered=t.offered
        ),
        "ivr_containment": ivr_containment(ivr_contained=t.ivr_contained, ivr_entered=t.ivr_entered),
    }
