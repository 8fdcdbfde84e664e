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


# Erlang A (M/M/N+M). Reference vector: N = 13 operators, 10 Erlangs, AHT 180 s, mean patience
# 300 s (the birth-death chain solved exactly; the same figures as the published Erlang A tables).


def test_erlang_a_reference_vector_to_three_decimals():
    result = staffing.erlang_a(
        agents=13, erlangs=10.0, aht_seconds=180, patience_seconds=300, threshold_seconds=20
    )
    assert round(result.probability_of_waiting, 3) == 0.226
    assert round(result.probability_of_abandoning, 3) == 0.025
    assert round(result.occupancy, 3) == 0.750
    assert round(result.service_level, 3) == 0.858


def test_erlang_a_with_endless_patience_tends_to_erlang_c():
    patient = staffing.erlang_a(
        agents=13, erlangs=10.0, aht_seconds=180, patience_seconds=1e9, threshold_seconds=20
    )
    assert patient.probability_of_waiting == pytest.approx(
        staffing.probability_of_waiting(agents=13, erlangs=10.0), abs=1e-5
    )
    assert patient.service_level == pytest.approx(
        staffing.service_level(agents=13, erlangs=10.0, aht_seconds=180, threshold_seconds=20), abs=1e-5
    )
    assert patient.probability_of_abandoning == pytest.approx(0, abs=1e-5)


def test_erlang_a_keeps_an_overloaded_queue_finite_because_callers_hang_up():
    result = staffing.erlang_a(
        agents=8, erlangs=10.0, aht_seconds=180, patience_seconds=120, threshold_seconds=20
    )
    assert 0 < result.probability_of_abandoning < 1 and result.probability_of_waiting < 1
    # Little's law: whatever is not abandoned is served by the 8 operators.
    assert result.occupancy == pytest.approx(10 * (1 - result.probability_of_abandoning) / 8)


def test_abandonment_lets_fewer_operators_reach_the_target_than_erlang_c():
    erlang_c = staffing.agents_needed(
        calls=100, interval_seconds=1800, aht_seconds=180, target_sl=0.8, threshold_seconds=20
    )
    erlang_a = staffing.agents_needed_with_abandonment(
        calls=100,
        interval_seconds=1800,
        aht_seconds=180,
        patience_seconds=300,
        target_sl=0.8,
        threshold_seconds=20,
    )
    assert erlang_a.agents == 13 < erlang_c.agents == 14
    below = staffing.erlang_a(
        agents=12, erlangs=10.0, aht_seconds=180, patience_seconds=300, threshold_seconds=20
    )
    assert below.service_level < 0.8 <= erlang_a.service_level


def test_patience_is_the_waiting_time_of_all_queued_calls_per_abandon():
    assert staffing.patience_estimate(waiting_seconds=1200, abandoned=4) == 300
    assert staffing.patience_estimate(waiting_seconds=1200, abandoned=0) is None
