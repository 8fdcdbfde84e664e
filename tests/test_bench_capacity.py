"""The capacity bench (issue 23): the bar a step holds, its figures, and what its CPU says of the calls a
box could take."""

from __future__ import annotations

import asyncio
import os
import platform
import sys
import sysconfig
from types import SimpleNamespace

from bench.capacity import (
    _cpu_ceiling,
    _interpreter,
    _step_figures,
    cpu_clock,
    held,
    stolen_percent,
    yardstick_seconds,
)


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


def test_each_run_gives_the_operators_the_same_skills_not_more(db, monkeypatch):
    """The runs of one session had each added ``EXTRA_SKILLS`` other queues to the earlier runs'
    (887 skills an operator after a dozen runs): each run measured a heavier floor than the one it
    described. Each run now leaves every operator the called queues and the same others."""
    from bench import capacity
    from telephony.models import PhoneNumber, Queue, Skill
    from tenants.clients import client_create
    from tenants.models import Client

    monkeypatch.setattr(capacity, "EXTRA_SKILLS", 2)
    live = client_create(slug="cap-live", name="Called", status=Client.Status.ACTIVE)
    rows = Client.objects.bulk_create(  # companies without a schema, as the bench makes the rest
        Client(
            slug=f"cap-row-{i}", name=f"Row {i}", schema_name=f"t_cap_row_{i}", status=Client.Status.ACTIVE
        )
        for i in range(6)
    )
    for company in (live, *rows):
        Queue.objects.get_or_create(tenant=company, is_default=True, defaults={"name": "Main"})
    number = PhoneNumber.objects.create(number="+15550709999", tenant=live, state=PhoneNumber.State.ASSIGNED)

    def skills() -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for user, slug in Skill.objects.filter(operator__user__username__startswith="cap-op-").values_list(
            "operator__user__username", "queue__tenant__slug"
        ):
            found.setdefault(user, set()).add(slug)
        return found

    capacity._operators(3, [number.number])
    first = skills()
    assert len(first) == 3 and all(len(slugs) == 3 and "cap-live" in slugs for slugs in first.values())
    # One more other queue for the first operator, as an earlier run would have added it.
    operator = Skill.objects.filter(operator__user__username="cap-op-1").first().operator
    extra = Queue.objects.exclude(tenant__slug__in=first["cap-op-1"]).filter(tenant__in=rows).first()
    Skill.objects.create(operator=operator, queue=extra, tier=1)

    capacity._operators(3, [number.number])
    assert skills() == first
    assert capacity._skills_per_operator() == 3.0


def test_a_step_holds_with_its_offer_p99_within_the_bar_and_no_call_lost():
    assert held({"offer_ms_p99": 100.0, "lost": 0})
    assert not held({"offer_ms_p99": 100.1, "lost": 0})
    assert not held({"offer_ms_p99": 42.0, "lost": 1})
    assert not held({"offer_ms_p99": None, "lost": 0})  # no call offered: nothing to hold


def _record(sid: str, placed: float, answered: float | None, bridged: bool, result: str):
    return SimpleNamespace(sid=sid, placed_at=placed, answered_webhook_at=answered,
                           bridged_at=placed + 1 if bridged else None, result=result, steps=[])  # fmt: skip


def _console(offered_at: dict[str, float]):
    online = asyncio.Event()
    online.set()
    return SimpleNamespace(stats=SimpleNamespace(offered_at=offered_at), online=online)


def test_a_steps_figures_time_each_call_to_its_first_offer_and_count_the_calls_not_answered():
    # 100 calls placed a second apart, each offered i ms after it was placed (1…100 ms), its first
    # webhook answered 1 ms before; the 100th offered again, later, to a second console; one more
    # call whose first webhook was never answered, abandoned.
    records = [_record(f"CA{i}", float(i), i + (i - 1) / 1000, True, "handled") for i in range(1, 101)]
    records.append(_record("CA-gone", 200.0, None, False, "abandoned"))
    first = _console({f"CA{i}": i + i / 1000 for i in range(1, 101)})
    second = _console({"CA100": 100.5})
    figures = _step_figures(records, [first, second], 2, arrivals=50.5)
    assert (figures["calls"], figures["answered"], figures["lost"]) == (101, 100, 1)
    assert figures["outcomes"] == {"abandoned": 1, "handled": 100}
    assert figures["calls_per_second"] == 2.0
    assert figures["offer_ms_p50"] == 50.5  # the median of 1…100 ms
    assert figures["offer_ms_p99"] == 100.0  # the first offer of the 100th, not its second
    assert figures["first_webhook_ms_p99"] == 99.0
    assert figures["offer_after_answer_ms_p50"] == 1.0
    assert not held(figures)  # a call lost
