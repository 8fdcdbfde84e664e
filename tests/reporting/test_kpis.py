"""The KPI definitions of docs/architecture.md §7 on hand-built call sets."""

import datetime as dt

import pytest

from reporting.kpis import CallFacts, occupancy, rates, totals

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def call(**kw) -> CallFacts:
    return CallFacts(started_at=T0, **kw)


SET = [
    # answered in 10 s and 30 s (one within T=20), one handled with hold and wrap-up
    call(
        queued=True,
        answered=True,
        outcome="handled",
        wait_seconds=10,
        talk_seconds=100,
        hold_seconds=20,
        wrapup_seconds=30,
        disposition="sale",
    ),
    call(
        queued=True,
        answered=True,
        outcome="handled",
        wait_seconds=30,
        talk_seconds=200,
        wrapup_seconds=10,
        transferred=True,
        disposition="info",
    ),
    # abandoned after 3 s (short), exactly 5 s (short: within 5 s) and 40 s
    call(queued=True, outcome="abandoned", wait_seconds=3),
    call(queued=True, outcome="abandoned", wait_seconds=5),
    call(queued=True, outcome="abandoned", wait_seconds=40),
    # the IVR: one contained, one went on to a callback request from the queue
    call(ivr_entered=True, outcome="completed_in_ivr", disposition="info"),
    call(ivr_entered=True, queued=True, outcome="callback_requested", wait_seconds=60),
    # an outbound call: not offered (never queued), but handled
    call(direction="outbound", answered=True, outcome="handled", talk_seconds=60, wrapup_seconds=0),
]


def test_counts_follow_the_definitions():
    t = totals(SET)
    assert (t.calls, t.offered, t.answered, t.answered_within_sl) == (8, 6, 2, 1)
    assert (t.abandoned, t.short_abandons) == (3, 2)
    assert t.handled == 3 and t.handle_seconds == 100 + 20 + 30 + 200 + 10 + 60
    assert (t.ivr_entered, t.ivr_contained) == (2, 1)
    assert (t.transfers, t.callbacks_requested, t.outbound_attempts, t.outbound_handled) == (1, 1, 1, 1)
    assert t.dispositions == {"sale": 1, "info": 2}


def test_rates_leave_short_abandons_out():
    r = rates(totals(SET))
    assert r["service_level"] == pytest.approx(1 / (6 - 2))
    assert r["abandon_rate"] == pytest.approx((3 - 2) / (6 - 2))
    assert r["asa_seconds"] == pytest.approx(20.0)
    assert r["aht_seconds"] == pytest.approx((150 + 210) / 2)  # inbound only
    assert r["aht_outbound_seconds"] == pytest.approx(60)
    assert r["ivr_containment"] == pytest.approx(0.5)


def test_threshold_and_short_abandon_limit_are_settings():
    t = totals(SET, sl_seconds=30, short_abandon_seconds=2)
    assert t.answered_within_sl == 2 and t.short_abandons == 0


def test_an_empty_period_has_no_rates_rather_than_zero():
    assert set(rates(totals([])).values()) == {None}


def test_occupancy_per_operator():
    assert occupancy(handle_seconds=2700, idle_seconds=900) == pytest.approx(0.75)
    assert occupancy(handle_seconds=0, idle_seconds=0) is None
