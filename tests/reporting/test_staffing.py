"""Erlang C against published values.

- Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked Example": 100 calls in
  30 minutes, AHT 180 s, 80 % in 20 s → 10 Erlangs; 11 agents: Pw 68.21 %, SL 39.0 %; the target is
  first met with 14 agents (SL 88.8 %, ASA 7.8 s, occupancy 71.4 %).
- M/M/1 (one agent): Pw = rho; M/M/2 with A = 1: Pw = 1/3 (closed forms in any queueing text).
- Erlang B table: 10 circuits carry 5.08 Erlangs at 2 % blocking.
"""

import math

import pytest

from reporting import staffing


def test_call_centre_helper_worked_example():
    erlangs = staffing.traffic_intensity(calls=100, interval_seconds=1800, aht_seconds=180)
    assert erlangs == pytest.approx(10.0)
    assert staffing.probability_of_waiting(agents=11, erlangs=erlangs) == pytest.approx(0.6821, abs=5e-5)
    sl = staffing.service_level(agents=11, erlangs=erlangs, aht_seconds=180, threshold_seconds=20)
    assert sl == pytest.approx(0.3896, abs=5e-4)
    need = staffing.agents_needed(
        calls=100, interval_seconds=1800, aht_seconds=180, target_sl=0.8, threshold_seconds=20
    )
    assert need.agents == 14
    assert need.service_level == pytest.approx(0.8884, abs=5e-4)
    assert need.asa_seconds == pytest.approx(7.8, abs=0.05)
    assert need.occupancy == pytest.approx(0.714, abs=5e-4)


def test_closed_forms_for_one_and_two_agents():
    assert staffing.probability_of_waiting(agents=1, erlangs=0.6) == pytest.approx(0.6)
    assert staffing.probability_of_waiting(agents=2, erlangs=1.0) == pytest.approx(1 / 3)
    # M/M/1 mean wait: rho/(1-rho) x service time
    asa = staffing.average_speed_of_answer(agents=1, erlangs=0.5, aht_seconds=100)
    assert asa == pytest.approx(100.0)


def test_erlang_b_table_value():
    assert staffing.erlang_b(agents=10, erlangs=5.08) == pytest.approx(0.02, abs=5e-4)


def test_overloaded_queue_always_waits_and_never_reaches_its_target():
    assert staffing.probability_of_waiting(agents=5, erlangs=5.0) == 1.0
    assert staffing.average_speed_of_answer(agents=4, erlangs=5.0, aht_seconds=60) == math.inf
    assert staffing.service_level(agents=4, erlangs=5.0, aht_seconds=60, threshold_seconds=20) == 0.0


def test_occupancy_cap_adds_operators():
    need = staffing.agents_needed(
        calls=100,
        interval_seconds=1800,
        aht_seconds=180,
        target_sl=0.8,
        threshold_seconds=20,
        max_occupancy=0.7,
    )
    assert need.agents == 15


def test_no_calls_needs_no_operators():
    need = staffing.agents_needed(
        calls=0, interval_seconds=900, aht_seconds=180, target_sl=0.8, threshold_seconds=20
    )
    assert need.agents == 0 and need.service_level == 1.0
