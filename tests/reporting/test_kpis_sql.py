"""Every KPI from the same call records through the SQL definitions and the Python ones: they agree.

The SQL side is taken twice: straight from the call records (``stats.call_totals``, the
dashboard's today) and through the statistics build (``stats.build_days``, every other page).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django_tenants.utils import tenant_context

from reporting import kpis, stats
from reporting.models import Statistic
from telephony.calls.models import Call, TelephonySettings
from tests.factories import CallFactory
from tests.reporting.factories import contract_in_force

DAY = dt.date(2026, 3, 2)
START = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
END = START + dt.timedelta(days=1)
SL, SHORT = 20, 5


def edge_cases(sl: int, short: int) -> list[dict[str, object]]:
    """Calls at and around the thresholds, and one of each outcome, direction and flag."""
    answered = {"queued_at": START, "outcome": Call.Outcome.HANDLED}

    def after(seconds: float) -> dt.datetime:
        return START + dt.timedelta(seconds=seconds)

    return [
        # exactly T: within
        {**answered, "answered_at": after(sl), "wait_seconds": sl, "talk_seconds": 60, "wrapup_seconds": 10},
        # a millisecond over (the record's whole seconds say T)
        {
            **answered,
            "answered_at": after(sl + 0.001),
            "wait_seconds": sl,
            "talk_seconds": 30,
            "hold_seconds": 15,
        },
        # answered at once, no whole seconds recorded: 0 s
        {
            **answered,
            "answered_at": START,
            "wait_seconds": None,
            "talk_seconds": None,
            "wrapup_seconds": None,
        },
        {
            **answered,
            "answered_at": START,
            "wait_seconds": 0,
            "talk_seconds": 5,
            "transferred_to": "+15550100999",
        },
        {"queued_at": START, "answered_at": after(3), "outcome": Call.Outcome.FAILED, "wait_seconds": 3},
        {"queued_at": START, "outcome": Call.Outcome.ABANDONED, "wait_seconds": short},  # exactly: short
        {"queued_at": START, "outcome": Call.Outcome.ABANDONED, "wait_seconds": short + 1},
        {"queued_at": START, "outcome": Call.Outcome.ABANDONED, "wait_seconds": 0},
        {"queued_at": START, "outcome": Call.Outcome.ABANDONED, "wait_seconds": None},  # no wait: short
        {"queued_at": START, "outcome": Call.Outcome.CALLBACK_REQUESTED, "wait_seconds": 90},
        {"queued_at": START, "outcome": Call.Outcome.VOICEMAIL, "wait_seconds": 120},
        {"queued_at": START},  # still waiting: offered, no outcome yet
        {"outcome": Call.Outcome.ABANDONED, "wait_seconds": 1},  # hung up before any queue: not offered
        {"ivr_started_at": START, "outcome": Call.Outcome.COMPLETED_IN_IVR, "disposition": "info"},
        {"ivr_started_at": START, "queued_at": START, "outcome": Call.Outcome.ABANDONED, "wait_seconds": 40},
        {"outcome": Call.Outcome.HANDLED, "talk_seconds": 50, "wrapup_seconds": 5},  # handled, never queued
        {
            "direction": Call.Direction.OUTBOUND,
            "answered_at": START,
            "outcome": Call.Outcome.HANDLED,
            "talk_seconds": 70,
            "disposition": "sale",
        },
        {"direction": Call.Direction.OUTBOUND, "outcome": Call.Outcome.FAILED},
    ]


@pytest.fixture
def alpha(db, tenants):
    with tenant_context(tenants.alpha):
        yield tenants.alpha


def counts(totals: kpis.Totals) -> dict[str, int]:
    return {name: getattr(totals, name) for name in kpis.METRICS}


def built_day(short: int) -> kpis.Totals:
    """The day's statistics (per queue, summed over the queues) as the pages read them."""
    settings = TelephonySettings.current()
    settings.short_abandon_seconds = short
    settings.save()
    stats.build_days(first=DAY, last=DAY)
    rows = Statistic.objects.filter(granularity="day", dimension="queue", day=DAY)
    return kpis.Totals(**{name: sum(getattr(row, name) for row in rows) for name in kpis.METRICS})


@pytest.mark.parametrize(("sl", "short"), [(SL, SHORT), (0, 0), (45, 10)])
def test_sql_and_python_agree_on_every_figure(alpha, sl, short):
    calls = [
        CallFactory(started_at=START + dt.timedelta(minutes=i), **kw)
        for i, kw in enumerate(edge_cases(sl, short))
    ]
    CallFactory(started_at=START - dt.timedelta(seconds=1), queued_at=START)  # the day before: not counted
    CallFactory(started_at=END, queued_at=END)  # the next day starts at END: not counted
    python = kpis.totals([kpis.call_facts(c) for c in calls], sl_seconds=sl, short_abandon_seconds=short)
    sql = stats.call_totals(start=START, end=END, sl_seconds=sl, short_abandon_seconds=short)
    contract_in_force(alpha, tariffs=[], sl_seconds=sl)  # the built rows' T is the contract's
    built = built_day(short)
    # A contract without a threshold (0) falls back to 20 s: the built rows then count against that.
    in_force = stats.sl_threshold()
    assert in_force == (sl or kpis.DEFAULT_SL_SECONDS)
    python_built = kpis.totals(
        [kpis.call_facts(c) for c in calls], sl_seconds=in_force, short_abandon_seconds=short
    )

    assert counts(sql) == counts(python)
    assert counts(built) == counts(python_built)
    assert kpis.rates(sql) == kpis.rates(python)
    assert kpis.rates(built) == kpis.rates(python_built)
    if (sl, short) == (SL, SHORT):  # the definitions, by hand, on the default thresholds
        assert (python.calls, python.offered, python.answered, python.answered_within_sl) == (18, 13, 5, 4)
        assert (python.abandoned, python.short_abandons) == (5, 3)
        assert python.handled == 6 and python.handle_seconds == 60 + 10 + 30 + 15 + 5 + 50 + 5 + 70
        assert (python.ivr_entered, python.ivr_contained, python.transfers) == (2, 1, 1)
        assert (python.callbacks_requested, python.voicemails) == (1, 1)
        assert (python.outbound_attempts, python.outbound_handled) == (2, 1)
        rates = kpis.rates(python)
        assert rates["service_level"] == 4 / (13 - 3)
        assert rates["abandon_rate"] == (5 - 3) / (13 - 3)
        assert rates["asa_seconds"] == pytest.approx((20 + 20.001 + 0 + 0 + 3) / 5)
        assert rates["aht_seconds"] == (python.handle_seconds - 70) / 5  # the outbound call apart
        assert rates["aht_outbound_seconds"] == 70
        assert rates["ivr_containment"] == 1 / 2


def test_a_period_without_calls_is_all_zeros_and_no_rate_on_both_sides(alpha):
    python = kpis.totals([])
    sql = stats.call_totals(start=START, end=END, sl_seconds=SL, short_abandon_seconds=SHORT)
    assert counts(sql) == counts(python) == dict.fromkeys(kpis.METRICS, 0)
    assert kpis.rates(sql) == kpis.rates(python) == dict.fromkeys(kpis.rates(python), None)


def test_only_short_abandons_leave_no_service_level_to_measure(alpha):
    abandoned = {"queued_at": START, "outcome": Call.Outcome.ABANDONED}
    calls = [CallFactory(started_at=START, wait_seconds=wait, **abandoned) for wait in (1, 5)]
    python = kpis.totals([kpis.call_facts(c) for c in calls])
    sql = stats.call_totals(start=START, end=END, sl_seconds=SL, short_abandon_seconds=SHORT)
    assert counts(sql) == counts(python)
    assert kpis.rates(sql) == kpis.rates(python)
    assert kpis.rates(python)["service_level"] is None and kpis.rates(python)["abandon_rate"] is None


def test_the_sql_names_the_outcomes_and_direction_the_call_records_use():
    assert set(kpis.SQL_PARAMETERS.values()) - {kpis.OUTBOUND} <= set(Call.Outcome.values)
    assert kpis.OUTBOUND == Call.Direction.OUTBOUND
