"""Erlang C (R20): operators needed per interval for a target service level. Pure, no Django.

Conventions: ``calls`` arrive in an interval of ``interval_seconds``; ``aht_seconds`` is the mean
handling time; ``agents`` is the number of operators handling the queue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def traffic_intensity(*, calls: float, interval_seconds: float, aht_seconds: float) -> float:
    """Offered load in Erlangs: calls per second x mean handling time."""
    if interval_seconds <= 0:
        raise ValueError("interval_seconds must be positive")
    return calls * aht_seconds / interval_seconds


def erlang_b(*, agents: int, erlangs: float) -> float:
    """Blocking probability, by the stable recursion B(n) = A·B(n-1) / (n + A·B(n-1))."""
    b = 1.0
    for n in range(1, agents + 1):
        b = erlangs * b / (n + erlangs * b)
    return b


def probability_of_waiting(*, agents: int, erlangs: float) -> float:
    """Erlang C: the chance an arriving call waits; 1 when the operators cannot keep up."""
    if erlangs <= 0:
        return 0.0
    if agents <= erlangs:
        return 1.0
    b = erlang_b(agents=agents, erlangs=erlangs)
    return agents * b / (agents - erlangs * (1 - b))


def service_level(*, agents: int, erlangs: float, aht_seconds: float, threshold_seconds: float) -> float:
    """Share of calls answered within ``threshold_seconds``: 1 - Pw·e^(-(N-A)·T/AHT)."""
    if erlangs <= 0:
        return 1.0
    if agents <= erlangs:
        return 0.0
    pw = probability_of_waiting(agents=agents, erlangs=erlangs)
    return 1 - pw * math.exp(-(agents - erlangs) * threshold_seconds / aht_seconds)


def average_speed_of_answer(*, agents: int, erlangs: float, aht_seconds: float) -> float:
    """Mean wait over all calls: Pw·AHT / (N - A); infinite when the operators cannot keep up."""
    if erlangs <= 0:
        return 0.0
    if agents <= erlangs:
        return math.inf
    return probability_of_waiting(agents=agents, erlangs=erlangs) * aht_seconds / (agents - erlangs)


@dataclass(frozen=True)
class Staffing:
    agents: int
    erlangs: float
    probability_of_waiting: float
    service_level: float
    asa_seconds: float
    occupancy: float


def agents_needed(
    *,
    calls: float,
    interval_seconds: float,
    aht_seconds: float,
    target_sl: float,
    threshold_seconds: float,
    max_occupancy: float = 1.0,
    max_agents: int = 10_000,
) -> Staffing:
    """The fewest operators reaching ``target_sl`` (0-1) with occupancy ≤ ``max_occupancy``."""
    erlangs = traffic_intensity(calls=calls, interval_seconds=interval_seconds, aht_seconds=aht_seconds)
    agents = max(1, math.floor(erlangs) + 1) if erlangs > 0 else 0
    while agents <= max_agents:
        sl = service_level(
            agents=agents, erlangs=erlangs, aht_seconds=aht_seconds, threshold_seconds=threshold_seconds
        )
        occupancy = erlangs / agents if agents else 0.0
        if sl >= target_sl and occupancy <= max_occupancy:
            return Staffing(
                agents=agents,
                erlangs=erlangs,
                probability_of_waiting=probability_of_waiting(agents=agents, erlangs=erlangs),
                service_level=sl,
                asa_seconds=average_speed_of_answer(agents=agents, erlangs=erlangs, aht_seconds=aht_seconds),
                occupancy=occupancy,
            )
        agents += 1
    raise ValueError(f"more than {max_agents} operators would be needed")
