"""The capacity bench's CPU ceiling (issue 23): what a step's CPU says of the calls a box could take."""

from __future__ import annotations

import os
import platform
import sys
import sysconfig

from bench.capacity import _cpu_ceiling, _interpreter, cpu_clock, stolen_percent, yardstick_seconds


def test_the_ceiling_counts_only_the_cpu_beyond_the_idle_platform():
    # 60 s at 3 calls/s: 180 calls; the platform idles at 0.1 CPU s a second (6 s of the step's 42).
    cpu = {"web": 24.0, "postgres": 12.0, "w-call": 6.0}
    figures = _cpu_ceiling(cpu, {"web": 0.06, "postgres": 0.04}, 60.0, 180)
    assert figures["cpu_seconds_per_call_beyond_idle"] == 0.2  # (42 - 6) / 180
    assert figures["calls_per_second_if_cpu_bound"] == round(((os.cpu_count() or 1) - 0.1) / 0.2, 1)


def test_no_ceiling_when_the_calls_cost_nothing_measurable():
    assert _cpu_ceiling({"web": 1.0}, {"web": 0.1}, 10.0, 5)["calls_per_second_if_cpu_bound"] is None


def test_the_yardstick_is_the_cpu_of_its_loop_on_the_interpreter_asked():
    # A loop of ten million additions takes a measurable fraction of a second on any machine.
    assert 0.01 < yardstick_seconds(sys.executable) < 60


def test_the_stolen_share_is_the_steal_over_all_the_cpu_time_between_two_readings():
    assert stolen_percent((10.0, 100.0), (13.0, 120.0)) == 15.0
    assert stolen_percent((10.0, 100.0), (10.0, 100.0)) is None  # no time passed
    stolen, total = cpu_clock()  # this box's own clock: steal is part of the total
    assert 0 <= stolen <= total


def test_the_platforms_interpreter_is_named_with_its_version_and_build():
    named = _interpreter(sys.executable)
    assert named["executable"] == sys.executable
    assert named["version"] == platform.python_version()
    assert named["configured"] == (sysconfig.get_config_var("CONFIG_ARGS") or "None")
