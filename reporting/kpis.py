"""The KPI definitions of docs/architecture.md §7: the one place they are written.

A call counts in the period where it **started**; its fields are those of ``telephony.calls.Call``.
- offered: asked for an operator (it was queued: ``queued_at`` set);
- answered: offered and bridged to an operator (``answered_at`` set);
- abandoned: offered, and the caller hung up waiting (outcome ``abandoned``);
- wait: exact, in whole milliseconds rounded up, from ``queued_at`` to ``answered_at`` (answered)
  or to ``ended_at`` (the caller hung up); a call still waiting (queued, not answered, not ended,
  no outcome) has waited until now; another record without those times falls back to its
  ``wait_seconds``; a missing wait counts as 0 ms;
- short abandon: abandoned with wait ≤ ``short_abandon_seconds`` (5 s by default), left out of the
  service level and the abandon rate;
- answered within T: answered with wait ≤ T, compared in milliseconds; T is the threshold of the
  call's own queue (``Queue.service_level_seconds``, set from the contract's row for that queue),
  for a call without a queue the contract's main queue's (20 s by default). A figure over several
  queues (the company's) is calls-weighted: each call counted against its own queue's T;
- a call still waiting is not offered until its wait passes T (it may yet be answered within
  T); past T it is offered and not answered within T (a miss, whatever happens next);
- handled: outcome ``handled``; its handling time is talk + hold + wrap-up; AHT is per direction
  (inbound: the queues' calls, the one staffing uses; outbound: campaigns and callbacks);
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
    wait_seconds: int | None = None  # whole seconds: only for a record without its times
    wait_ms: int | None = None  # exact (``wait_ms``): wins over ``wait_seconds``
    waiting: bool = False  # queued, not answered, not ended, no outcome yet
    talk_seconds: int | None = None
    hold_seconds: int = 0
    wrapup_seconds: int | None = None
    ivr_entered: bool = False
    transferred: bool = False
    disposition: str = ""


MS = dt.timedelta(milliseconds=1)


def milliseconds(span: dt.timedelta) -> int:
    """A span in whole milliseconds, rounded up (20.0001 s is 20,001 ms: over a 20 s threshold)."""
    return max(0, -(-span // MS))


def is_waiting(call: Any) -> bool:
    """Queued and still waiting: not answered, not ended, no outcome."""
    return (
        call.queued_at is not None and call.answered_at is None and call.ended_at is None and not call.outcome
    )


def wait_ms(call: Any, now: dt.datetime) -> int | None:
    """A call's exact wait in the queue (see the definitions above); None when not queued or unknown."""
    if call.queued_at is None:
        return None
    until = call.answered_at or call.ended_at
    if until is not None:
        return milliseconds(until - call.queued_at)
    if is_waiting(call):
        return milliseconds(now - call.queued_at)
    return call.wait_seconds * 1000 if call.wait_seconds is not None else None


def waiting_counts_as_offered(*, waited_ms: int, sl_seconds: int) -> bool:
    """A call still waiting counts as offered (a miss) once its wait passes T, not before."""
    return waited_ms > sl_seconds * 1000


def call_facts(call: Any, *, now: dt.datetime | None = None) -> CallFacts:
    """What the definitions see of a call record (a ``Call``, or anything with its fields);
    ``now`` (default: the present) is when a call still waiting is looked at."""
    now = now or dt.datetime.now(dt.UTC)
    return CallFacts(
        started_at=call.started_at,
        direction=call.direction,
        queued=call.queued_at is not None,
        answered=call.queued_at is not None and call.answered_at is not None,
        outcome=call.outcome,
        wait_seconds=call.wait_seconds,
        wait_ms=wait_ms(call, now),
        waiting=is_waiting(call),
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
    wait_answered_ms: int = 0
    handled: int = 0
    talk_seconds: int = 0
    hold_seconds: int = 0
    wrapup_seconds: int = 0
    inbound_handled: int = 0
    inbound_handle_seconds: int = 0
    outbound_handle_seconds: int = 0
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
        wait = c.wait_ms if c.wait_ms is not None else (c.wait_seconds or 0) * 1000
        if c.queued and (not c.waiting or waiting_counts_as_offered(waited_ms=wait, sl_seconds=sl_seconds)):
            t.offered += 1
            if c.answered:
                t.answered += 1
                t.wait_answered_ms += wait
                t.answered_within_sl += wait <= sl_seconds * 1000
            if c.outcome == ABANDONED:
                t.abandoned += 1
                t.short_abandons += wait <= short_abandon_seconds * 1000
        if c.outcome == HANDLED:
            handle = (c.talk_seconds or 0) + (c.hold_seconds or 0) + (c.wrapup_seconds or 0)
            t.handled += 1
            t.talk_seconds += c.talk_seconds or 0
            t.hold_seconds += c.hold_seconds or 0
            t.wrapup_seconds += c.wrapup_seconds or 0
            if c.direction == OUTBOUND:
                t.outbound_handle_seconds += handle
            else:
                t.inbound_handled += 1
                t.inbound_handle_seconds += handle
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
# calls (``totals``). The row carries ``sl_seconds``, its queue's T (``stats.calls_with_threshold``);
# ``CALL_FLAGS`` passes it on. Parameters: ``SQL_PARAMETERS``, ``short_abandon_seconds``
# and ``now`` (when a call still waiting is looked at). ``WAIT_MS_SQL`` is ``wait_ms``.
# A span's exact microseconds (date_part's double holds them exactly), then whole ms rounded up.
_MS_SQL = "(GREATEST(0, round(date_part('epoch', {}) * 1000000)::bigint) + 999) / 1000"
WAIT_MS_SQL = f"""CASE
        WHEN queued_at IS NULL THEN NULL
        WHEN COALESCE(answered_at, ended_at) IS NOT NULL
            THEN {_MS_SQL.format("COALESCE(answered_at, ended_at) - queued_at")}
        WHEN outcome = '' THEN {_MS_SQL.format("%(now)s - queued_at")}
        ELSE wait_seconds::bigint * 1000
    END"""
CALL_FLAGS = f"""
    outcome, talk_seconds, hold_seconds, wrapup_seconds, transferred_to,
    COALESCE({WAIT_MS_SQL}, 0) AS wait,
    queued_at IS NOT NULL AND (
        answered_at IS NOT NULL OR ended_at IS NOT NULL OR outcome <> ''
        OR queued_at < %(now)s - sl_seconds * INTERVAL '1 second'
    ) AS is_queued, sl_seconds,
    queued_at IS NOT NULL AND answered_at IS NOT NULL AS is_answered,
    queued_at IS NOT NULL AND outcome = %(abandoned)s AS is_abandoned,
    outcome = %(handled)s AS is_handled,
    COALESCE(talk_seconds, 0) + hold_seconds + COALESCE(wrapup_seconds, 0) AS handle,
    ivr_started_at IS NOT NULL AS is_ivr,
    direction = %(outbound)s AS is_outbound"""
CALL_AGGREGATES = {
    "calls": "count(*)",
    "offered": "count(*) FILTER (WHERE is_queued)",
    "answered": "count(*) FILTER (WHERE is_answered)",
    "answered_within_sl": "count(*) FILTER (WHERE is_answered AND wait <= sl_seconds * 1000)",
    "abandoned": "count(*) FILTER (WHERE is_abandoned)",
    "short_abandons": "count(*) FILTER (WHERE is_abandoned AND wait <= %(short_abandon_seconds)s * 1000)",
    "wait_answered_ms": "COALESCE(sum(wait) FILTER (WHERE is_answered), 0)",
    "handled": "count(*) FILTER (WHERE is_handled)",
    "talk_seconds": "COALESCE(sum(talk_seconds) FILTER (WHERE is_handled), 0)",
    "hold_seconds": "COALESCE(sum(hold_seconds) FILTER (WHERE is_handled), 0)",
    "wrapup_seconds": "COALESCE(sum(wrapup_seconds) FILTER (WHERE is_handled), 0)",
    "inbound_handled": "count(*) FILTER (WHERE is_handled AND NOT is_outbound)",
    "inbound_handle_seconds": "COALESCE(sum(handle) FILTER (WHERE is_handled AND NOT is_outbound), 0)",
    "outbound_handle_seconds": "COALESCE(sum(handle) FILTER (WHERE is_handled AND is_outbound), 0)",
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


def average_speed_of_answer(*, wait_answered_ms: int, answered: int) -> float | None:
    """Mean wait of answered calls, in seconds (from the exact waits in milliseconds)."""
    return _ratio(wait_answered_ms / 1000, answered)


def average_handling_time(*, handle_seconds: int, handled: int) -> float | None:
    """Mean talk + hold + wrap-up of handled calls, in seconds."""
    return _ratio(handle_seconds, handled)


def abandon_rate(*, abandoned: int, short_abandons: int, offered: int) -> float | None:
    """(Abandoned - short abandons) / (offered - short abandons)."""
    return _ratio(abandoned - short_abandons, offered - short_abandons)


def occupancy(*, handle_seconds: float, idle_seconds: float) -> float | None:
    """Per operator: handling time / (handling + available-idle time)."""
    return _ratio(handle_seconds, handle_seconds + idle_seconds)


# Operator states (values of ``telephony.routing_models.OperatorState``) as occupancy sees them.
HANDLING_STATES = frozenset({"on_call", "wrap_up"})
AVAILABLE = "available"


def operator_seconds(
    changes: Iterable[tuple[str, dt.datetime]],
    *,
    state_before: str | None,
    since: dt.datetime,
    until: dt.datetime,
) -> tuple[float, float]:
    """(handling, available-idle) seconds of one operator in [since, until), from their state
    changes in order. The state at ``since`` is the last one before it: an operator on shift
    across midnight counts from midnight, not from their first change of the day."""
    spent = state_seconds(changes, state_before=state_before, since=since, until=until)
    return sum(v for s, v in spent.items() if s in HANDLING_STATES), spent.get(AVAILABLE, 0.0)


# Adherence: the states in which an operator is working (logged in, not on a break).
WORKING_STATES = frozenset({"available", "reserved", "on_call", "wrap_up"})
BREAK = "break"


def adherence_seconds(
    changes: Iterable[tuple[str, dt.datetime]],
    *,
    state_before: str | None,
    shifts: Iterable[tuple[dt.datetime, dt.datetime, float]],
    since: dt.datetime,
    until: dt.datetime,
) -> tuple[float, float]:
    """(adherent, scheduled) seconds of one operator in [since, until). ``shifts`` are (start, end,
    planned break seconds); each is clipped to the window. Adherent: inside a shift, in a working
    state (available, reserved, on a call, wrap-up), plus time on a break up to the shift's planned
    break; offline, or on a break beyond the allowance, is not. The state at a shift's start is the
    last one before it, so a night shift counts across midnight."""
    changes = list(changes)
    adherent = scheduled = 0.0
    for start, end, break_seconds in shifts:
        start, end = max(start, since), min(end, until)
        if end <= start:
            continue
        spent = state_seconds(changes, state_before=state_before, since=start, until=end)
        working = sum(v for state, v in spent.items() if state in WORKING_STATES)
        adherent += working + min(spent.get(BREAK, 0.0), break_seconds)
        scheduled += (end - start).total_seconds()
    return adherent, scheduled


def state_seconds(
    changes: Iterable[tuple[str, dt.datetime]],
    *,
    state_before: str | None,
    since: dt.datetime,
    until: dt.datetime,
) -> dict[str, float]:
    """Seconds spent in each state in [since, until), from the state changes in order (changes
    before ``since`` only set the state at ``since``)."""
    spent: dict[str, float] = {}
    state, at = state_before, since
    for next_state, when in [*changes, (None, until)]:
        start, end = max(at, since), min(when, until)
        if state is not None and end > start:
            spent[state] = spent.get(state, 0.0) + (end - start).total_seconds()
        state, at = next_state, when
    return spent


def adherence(*, adherent_seconds: float, scheduled_seconds: float) -> float | None:
    """Per operator: adherent time / scheduled (shift) time."""
    return _ratio(adherent_seconds, scheduled_seconds)


def ivr_containment(*, ivr_contained: int, ivr_entered: int) -> float | None:
    """Calls finished in the automatic part / calls that entered it."""
    return _ratio(ivr_contained, ivr_entered)


def rates(t: Totals) -> dict[str, float | None]:
    """Every ratio KPI of a period's totals."""
    return {
        "service_level": service_level(
            answered_within_sl=t.answered_within_sl, offered=t.offered, short_abandons=t.short_abandons
        ),
        "asa_seconds": average_speed_of_answer(wait_answered_ms=t.wait_answered_ms, answered=t.answered),
        # AHT per direction: the queues' (inbound) calls, and the outbound ones, never mixed.
        "aht_seconds": average_handling_time(
            handle_seconds=t.inbound_handle_seconds, handled=t.inbound_handled
        ),
        "aht_outbound_seconds": average_handling_time(
            handle_seconds=t.outbound_handle_seconds, handled=t.outbound_handled
        ),
        "abandon_rate": abandon_rate(
            abandoned=t.abandoned, short_abandons=t.short_abandons, offered=t.offered
        ),
        "ivr_containment": ivr_containment(ivr_contained=t.ivr_contained, ivr_entered=t.ivr_entered),
    }
