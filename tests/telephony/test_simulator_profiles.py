"""The demo's live traffic looks like a working day; tests and benches keep their seconds-long calls."""

from __future__ import annotations

import random
import statistics

from telephony.management.commands.simulate import Command as Simulate
from telephony.management.commands.simulate import build_plan
from telephony.simulator.profiles import named
from tenants.management.commands import run


def _options(*args: str) -> dict:
    return vars(Simulate().create_parser("manage.py", "simulate").parse_args(list(args)))


def test_the_working_day_profile_has_minutes_of_talk_minutes_of_patience_and_seconds_of_wrap_up():
    day, rng = named("working-day"), random.Random(3)
    talks = [day.profile.talk_seconds(rng) for _ in range(2000)]
    assert 180 <= statistics.median(talks) <= 240  # 3 to 4 minutes
    assert statistics.quantiles(talks, n=10)[0] >= 100 and statistics.quantiles(talks, n=10)[-1] <= 420
    assert day.profile.patience[0] >= 60 and day.profile.patience[1] <= 180
    assert day.behaviour.wrap_up[0] >= 5 and day.behaviour.wrap_up[1] <= 30
    # Six operators kept ~85% busy: a call every 40-50 s, not several a second.
    assert 0.015 < day.rate_for(6) < 0.03


def test_the_simulate_command_keeps_the_fast_profile_unless_told():
    fast = build_plan(_options(), ["+15550001"], [("op", "key")])
    assert fast.rate == 0.5 and fast.profile.talk == (3.0, 10.0) and not fast.profile.talk_median
    assert fast.profile.patience == (20.0, 90.0) and fast.behaviour.wrap_up == (0.5, 2.0)

    day = build_plan(_options("--profile", "working-day"), ["+15550001"], [("a", "k"), ("b", "k")])
    assert day.profile.talk_median == 210.0 and day.profile.patience == (60.0, 180.0)
    assert day.rate == named("working-day").rate_for(2)
    tuned = build_plan(_options("--profile", "working-day", "--patience", "5", "9", "--rate", "1"), [], [])
    assert tuned.profile.patience == (5.0, 9.0) and tuned.rate == 1.0 and tuned.profile.talk_median


def test_the_demo_plays_the_working_day_by_default():
    options = vars(run.Command().create_parser("manage.py", "run").parse_args([]))
    assert options["traffic"] is None  # None: the working day's rate for the demo's operators
    assert run.DEMO_OPERATORS >= 6
