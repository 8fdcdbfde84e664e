"""Erlang C and Erlang A (R20): operators needed per interval for a target service level. Pure, no Django.

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


# Erlang A (M/M/N+M): callers who wait too long hang up. Patience is exponential with mean
# ``patience_seconds``; the figures come from the birth-death chain of the number of calls in the
# system (served + waiting), whose waiting calls leave at 1/patience each.

# The chain is cut where a state's probability falls below this share of the largest one.
_NEGLIGIBLE = 1e-15


@dataclass(frozen=True)
class ErlangA:
    agents: int
    erlangs: float
    patience_seconds: float
    probability_of_waiting: float
    probability_of_abandoning: float
    service_level: float  # answered within the threshold, out of all calls offered
    mean_wait_seconds: float  # over all calls offered, answered or abandoned
    occupancy: float


def patience_estimate(*, waiting_seconds: float, abandoned: int) -> float | None:
    """Mean patience from a queue's own history: total waiting time of all queued calls / abandons.

    ``waiting_seconds`` adds the waits of the abandoned calls (how long each caller stayed) and of
    the answered ones (each had stayed at least that long): the estimate of an exponential
    patience from censored observations. None without abandons: patience was never reached.
    """
    if abandoned <= 0 or waiting_seconds <= 0:
        return None
    return waiting_seconds / abandoned


def _system_states(
    *, agents: int, erlangs: float, aht_seconds: float, patience_seconds: float
) -> list[float]:
    """P(k calls in the system), k = 0, 1, …, cut where the tail is negligible."""
    mu, theta = 1 / aht_seconds, 1 / patience_seconds
    lam = erlangs * mu
    logs, top = [0.0], 0.0
    k = 0
    while True:
        k += 1
        rate_out = min(k, agents) * mu + max(k - agents, 0) * theta
        logs.append(logs[-1] + math.log(lam / rate_out))
        top = max(top, logs[-1])
        if k > agents and logs[-1] < top + math.log(_NEGLIGIBLE):
            break
    weights = [math.exp(v - top) for v in logs]
    total = sum(weights)
    return [w / total for w in weights]


def _answered_within(
    *, waiting: list[float], agents: int, aht_seconds: float, patience_seconds: float, seconds: float
) -> float:
    """Share of all calls that find every operator busy and are answered within ``seconds``.

    ``waiting[j - 1]`` is the chance an arriving call becomes the j-th in the queue. The j-th
    moves up at rate N/AHT + (j-1)/patience (a call ends or one ahead hangs up) and hangs up itself
    at 1/patience: solved by uniformisation, a sum of Poisson-weighted steps of the chain.
    """
    mu, theta = 1 / aht_seconds, 1 / patience_seconds
    size = len(waiting)
    ahead = [agents * mu + j * theta for j in range(size)]  # rate of moving up from position j + 1
    uniform = ahead[-1] + theta
    mass = list(waiting)
    served = 0.0
    mean = uniform * seconds
    log_weight = -mean  # log of the Poisson weight of m steps
    cumulative_weight, result, step = 0.0, 0.0, 0
    while True:
        weight = math.exp(log_weight)
        cumulative_weight += weight
        result += weight * served
        if step > mean and 1 - cumulative_weight < _NEGLIGIBLE:
            break
        moved = [mass[j] * ahead[j] / uniform for j in range(size)]
        served += moved[0]
        mass = [
            mass[j] * (1 - (ahead[j] + theta) / uniform) + (moved[j + 1] if j + 1 < size else 0.0)
            for j in range(size)
        ]
        step += 1
        log_weight += math.log(mean) - math.log(step)
        if step > mean + 60 * math.sqrt(mean + 1) + 60:
            break
    # Mass never served within the horizon counts as not answered in time.
    return result + (1 - cumulative_weight) * served


def erlang_a(
    *, agents: int, erlangs: float, aht_seconds: float, patience_seconds: float, threshold_seconds: float
) -> ErlangA:
    """Erlang A figures for ``agents`` operators: waiting, abandoning, service level, occupancy."""
    if aht_seconds <= 0 or patience_seconds <= 0:
        raise ValueError("aht_seconds and patience_seconds must be positive")
    if erlangs <= 0:
        return ErlangA(agents, 0.0, patience_seconds, 0.0, 0.0, 1.0, 0.0, 0.0)
    if agents <= 0:
        return ErlangA(0, erlangs, patience_seconds, 1.0, 1.0, 0.0, patience_seconds, 0.0)
    states = _system_states(
        agents=agents, erlangs=erlangs, aht_seconds=aht_seconds, patience_seconds=patience_seconds
    )
    waiting = states[agents:]
    p_wait = sum(waiting)
    mean_queue = sum(j * p for j, p in enumerate(waiting))
    arrivals_per_second = erlangs / aht_seconds
    p_abandon = mean_queue / patience_seconds / arrivals_per_second
    answered_at_once = 1 - p_wait
    sl = answered_at_once + _answered_within(
        waiting=waiting,
        agents=agents,
        aht_seconds=aht_seconds,
        patience_seconds=patience_seconds,
        seconds=threshold_seconds,
    )
    return ErlangA(
        agents=agents,
        erlangs=erlangs,
        patience_seconds=patience_seconds,
        probability_of_waiting=min(1.0, p_wait),
        probability_of_abandoning=min(1.0, p_abandon),
        service_level=min(1.0, max(0.0, sl)),
        mean_wait_seconds=mean_queue / arrivals_per_second,
        occupancy=erlangs * (1 - p_abandon) / agents,
    )


def agents_needed_with_abandonment(
    *,
    calls: float,
    interval_seconds: float,
    aht_seconds: float,
    patience_seconds: float,
    target_sl: float,
    threshold_seconds: float,
    max_occupancy: float = 1.0,
    max_agents: int = 10_000,
) -> ErlangA:
    """The fewest operators reaching ``target_sl`` (0-1, answered in time out of all calls) by Erlang A."""
    erlangs = traffic_intensity(calls=calls, interval_seconds=interval_seconds, aht_seconds=aht_seconds)
    if erlangs <= 0:
        return erlang_a(
            agents=0, erlangs=0, aht_seconds=aht_seconds, patience_seconds=patience_seconds,
            threshold_seconds=threshold_seconds,
        )  # fmt: skip

    def figures(agents: int) -> ErlangA:
        return erlang_a(
            agents=agents,
            erlangs=erlangs,
            aht_seconds=aht_seconds,
            patience_seconds=patience_seconds,
            threshold_seconds=threshold_seconds,
        )

    def enough(result: ErlangA) -> bool:
        return result.service_level >= target_sl and result.occupancy <= max_occupancy

    # Service level rises and occupancy falls with each operator added: a bisection finds the fewest.
    low, high = 0, 1
    while not enough(figures(high)):
        if high >= max_agents:
            raise ValueError(f"more than {max_agents} operators would be needed")
        low, high = high, min(2 * high, max_agents)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(figures(middle)) else (middle, high)
    return figures(high)
