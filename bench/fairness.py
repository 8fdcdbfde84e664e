"""The shared pool under load, fair by contract (issue 20): six client companies with different
service-level targets, reserved seats and caps, at 80 %, 120 % and 150 % of the pool's capacity;
one of them has two queues under different terms (the contract's terms are per queue): a capped
sales line and a support line with reserved seats.

A discrete-event simulation on a simulated clock, in process, with the router's real policy
(``telephony.routing.matching.pairs`` with its ``fairness.Floor``, the sliding-window record kept
as ``fairness.Record`` keeps it): Poisson arrivals, exponential handling times and caller patience
(callers hang up), offers answered at once. Each load runs 20 simulated minutes of warm-up and one
measured hour, once with fairness and once in today's order (one queue after another by priority
and longest wait, the order before issue 20) for comparison. No database: the DB side of the same
policy is tested in ``tests/telephony/test_fairness_routing.py``; its speed is ``bench routing``.

Figures per company queue ("line"): target vs achieved service level (§7: answered within T / (offered - short
abandons), on the calls that arrived in the measured hour), seat share (time-averaged seats / pool)
vs the contract's reserved share and cap, longest wait, abandon rate. Goals checked (fair run):
- under overload, every queue with reserved seats gets at least its reserved share, within 5
  points (and no more than its cap where the cap equals the reservation);
- misses spread in proportion to the targets: no company at 0 % while another is above its target;
- caps (each queue's own) never exceeded while another company waits (counted at every assignment).
"""

from __future__ import annotations

import heapq
import itertools
import os
import random
import time
from collections import deque
from dataclasses import dataclass, field

import django

# The policy lives in the router's package, which imports Django models: set Django up (no
# database is opened; the settings are the environment's, as for every bench).
os.environ.setdefault("DJANGO_ENV", "development")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from telephony.routing import fairness  # noqa: E402
from telephony.routing.matching import CallIn, OperatorIn, QueueRule, SkillIn, pairs  # noqa: E402

POOL = 40
HANDLE_SECONDS = 180.0
PATIENCE_SECONDS = 120.0
WINDOW_SECONDS = 30 * 60
WARM_UP = 20 * 60
MEASURED = 60 * 60
LOADS = (0.8, 1.2, 1.5)
SEEDS = 3


@dataclass(frozen=True)
class Company:
    """One queue of a client company (the simulation's "line"): ``id`` is the queue's; ``owner``
    the company's (its own id when the company has this queue only)."""

    id: int
    name: str
    demand: float  # its weight in the calls (the weights' sum is all the calls)
    terms: fairness.Terms
    owner: int = 0

    @property
    def company(self) -> int:
        return self.owner or self.id


COMPANIES = (
    Company(1, "Aurora Bank", 0.30, fairness.Terms(90, 20, reserved_seats=10)),
    Company(2, "Borealis Energy", 0.25, fairness.Terms(80, 20, reserved_seats=6, max_seats=12)),
    Company(3, "Cirrus Retail", 0.25, fairness.Terms(80, 30, max_percent=25)),
    Company(4, "Delta Travel", 0.10, fairness.Terms(70, 60)),
    Company(5, "Ember Health", 0.10, fairness.Terms(85, 15)),
    # One company, two queues under different terms of its contract.
    Company(6, "Fjord Telecom / Sales", 0.05, fairness.Terms(75, 30, max_seats=3), owner=6),
    Company(7, "Fjord Telecom / Support", 0.05, fairness.Terms(85, 20, reserved_seats=1), owner=6),
)
TOTAL_DEMAND = sum(c.demand for c in COMPANIES)
OWNER = {c.id: c.company for c in COMPANIES}


@dataclass
class Call:
    id: int
    company: int
    at: float
    patience: float
    answered_at: float | None = None
    left_at: float | None = None


@dataclass
class Tally:
    seat_seconds: float = 0.0
    cap_breaches: int = 0
    calls: list[Call] = field(default_factory=list)


def simulate(load: float, fair: bool, seed: int) -> dict[int, Tally]:
    rng = random.Random(seed)
    rate = load * POOL / HANDLE_SECONDS  # calls per second at this share of the capacity
    rules = {c.id: QueueRule(0.0, None, c.company, c.terms) for c in COMPANIES}
    terms = {c.id: c.terms for c in COMPANIES}
    events: list[tuple[float, int, str, object]] = []
    order = itertools.count()
    end = WARM_UP + MEASURED
    for company in COMPANIES:
        share = company.demand / TOTAL_DEMAND
        t = rng.expovariate(rate * share)
        while t < end:
            heapq.heappush(events, (t, next(order), "arrive", company.id))
            t += rng.expovariate(rate * share)
    waiting: dict[int, Call] = {}
    free: dict[int, float] = {op: -rng.random() * 60 for op in range(POOL)}  # operator → idle since
    seats = dict.fromkeys(terms, 0)
    closed: deque[tuple[float, int, fairness.Record]] = deque()  # (left at, company, the call's record)
    tallies = {c: Tally() for c in terms}
    skills = {q: SkillIn() for q in terms}
    ids = itertools.count(1)
    last = 0.0

    def close(call: Call, now: float, answered: bool) -> None:
        one = fairness.Record().add(
            waited_ms=fairness_ms(now - call.at), answered=answered, abandoned=not answered,
            terms=terms[call.company],
        )  # fmt: skip
        closed.append((now, call.company, one))

    def records(now: float) -> dict[int, fairness.Record]:
        while closed and closed[0][0] < now - WINDOW_SECONDS:
            closed.popleft()
        within = dict.fromkeys(terms, 0)
        counted = dict.fromkeys(terms, 0)
        for _, company, one in closed:
            within[company] += one.within
            counted[company] += one.counted
        return {q: fairness.Record(within[q], counted[q]) for q in terms}

    def match(now: float) -> None:
        if not free or not waiting:
            return
        floor = fairness.Floor(records(now), dict(seats), POOL, fairness.DEFAULT_HARD_LIMIT) if fair else None
        found = pairs(
            [CallIn(c.id, c.company, c.at) for c in waiting.values()],
            [OperatorIn(op, idle, skills) for op, idle in free.items()],
            rules,
            now,
            floor,
        )
        taken = []
        for call_id, operator in found:
            call = waiting.pop(call_id)
            seats[call.company] += 1
            taken.append(call.company)
            del free[operator]
            call.answered_at = now
            close(call, now, answered=True)
            handle = rng.expovariate(1 / HANDLE_SECONDS)
            heapq.heappush(events, (now + handle, next(order), "done", (operator, call.company)))
        # A cap is exceeded while others wait when, after this match, a company holds more seats
        # than its cap by a call of this match and a call still waits of another company that is
        # under its own cap (when every company waiting is at its cap, one must go over it, or the
        # operator would idle).
        # (``Call.company`` is the queue; a wait of the same company's other queue is not another's.)
        still = {
            OWNER[c.company] for c in waiting.values() if not _at_cap(terms[c.company], seats[c.company])
        }
        for company in taken:
            cap = terms[company].cap(POOL)
            if cap is not None and seats[company] > cap and still - {OWNER[company]}:
                tallies[company].cap_breaches += 1

    while events:
        now, _, kind, data = heapq.heappop(events)
        if now > end:
            break
        span = max(0.0, min(now, end) - max(last, WARM_UP))
        for company, used in seats.items():
            tallies[company].seat_seconds += used * span
        last = now
        if kind == "arrive":
            call = Call(next(ids), data, now, rng.expovariate(1 / PATIENCE_SECONDS))
            waiting[call.id] = call
            if now >= WARM_UP:
                tallies[call.company].calls.append(call)
            heapq.heappush(events, (now + call.patience, next(order), "hang_up", call.id))
        elif kind == "hang_up":
            call = waiting.pop(data, None)
            if call is not None:
                call.left_at = now
                close(call, now, answered=False)
        else:
            operator, company = data
            seats[company] -= 1
            free[operator] = now
        match(now)
    for call in waiting.values():  # still waiting at the end: waited until then
        call.left_at = end
    return tallies


def _at_cap(terms: fairness.Terms, seats: int) -> bool:
    cap = terms.cap(POOL)
    return cap is not None and seats >= cap


def fairness_ms(seconds: float) -> int:
    """A wait in whole milliseconds, rounded up (§7)."""
    return max(0, -(-round(seconds * 1_000_000) // 1000))


def figures(tallies_by_seed: list[dict[int, Tally]]) -> dict[str, dict[str, object]]:
    result = {}
    for company in COMPANIES:
        within = counted = abandoned = 0
        longest = seat_seconds = 0.0
        breaches = 0
        for tallies in tallies_by_seed:
            tally = tallies[company.id]
            seat_seconds += tally.seat_seconds
            breaches += tally.cap_breaches
            for call in tally.calls:
                wait = (call.answered_at if call.answered_at is not None else call.left_at or 0) - call.at
                longest = max(longest, wait)
                one = fairness.Record().add(
                    waited_ms=fairness_ms(wait), answered=call.answered_at is not None,
                    abandoned=call.answered_at is None, terms=company.terms,
                )  # fmt: skip
                within += one.within
                counted += one.counted
                abandoned += call.answered_at is None and one.counted
        share = seat_seconds / (POOL * MEASURED * len(tallies_by_seed))
        cap = company.terms.cap(POOL)
        result[company.name] = {
            "target": f"{company.terms.sl_percent}% in {company.terms.sl_seconds}s",
            "target_percent": company.terms.sl_percent,
            "achieved_percent": round(100 * within / counted, 1) if counted else None,
            "achieved_of_target": (
                round(100 * within / counted / company.terms.sl_percent, 3) if counted else None
            ),
            "seat_share_percent": round(100 * share, 1),
            "reserved_share_percent": round(100 * company.terms.reserved_seats / POOL, 1),
            "cap_share_percent": round(100 * cap / POOL, 1) if cap is not None else None,
            "demand_share_percent": round(100 * company.demand / TOTAL_DEMAND, 1),
            "longest_wait_s": round(longest, 1),
            "abandon_percent": round(100 * abandoned / counted, 1) if counted else None,
            "calls": counted,
            "cap_exceeded_while_others_waited": breaches,
        }
    return result


def goals(per_company: dict[str, dict[str, object]], load: float) -> dict[str, bool]:
    by_name = {c.name: c for c in COMPANIES}
    reserved_ok = True
    for name, row in per_company.items():
        terms = by_name[name].terms
        if load > 1 and terms.reserved_seats:
            reserved = row["reserved_share_percent"]
            if row["seat_share_percent"] < reserved - 5:
                reserved_ok = False
            if terms.cap(POOL) == terms.reserved_seats and row["seat_share_percent"] > reserved + 5:
                reserved_ok = False
    levels = [(row["achieved_percent"] or 0, row["target_percent"]) for row in per_company.values()]
    someone_above = any(achieved > target for achieved, target in levels)
    return {
        "reserved_share_within_5_points": reserved_ok,
        "no_company_at_0_while_another_above_target": not (someone_above and any(a == 0 for a, _ in levels)),
        "caps_never_exceeded_while_others_wait": all(
            row["cap_exceeded_while_others_waited"] == 0 for row in per_company.values()
        ),
    }


def policy_cost(quick: bool) -> dict[str, float]:
    """The pure policy's time for one match on ``bench routing``'s floor (550 companies, 5,000
    calls waiting, operators with 10 skills each; a quarter of the queues reserve a seat, a fifth
    cap at 5 %): one operator freed (about 100 calls in its queues), and 100 operators at once.
    With and without fairness, in alternating rounds; the database's part is ``bench routing``."""
    rng = random.Random(7)
    companies = 550
    terms = {q: fairness.Terms(80, rng.choice([15, 20, 30]), reserved_seats=1 if q % 4 == 0 else 0,
                               max_percent=5 if q % 5 == 1 else None) for q in range(companies)}  # fmt: skip
    rules = {q: QueueRule(0.0, None, q + 1, t) for q, t in terms.items()}
    now = 10_000.0
    calls = [CallIn(i, i % 500, now - rng.random() * 300, rng.choice([0, 0, 0, 1])) for i in range(5000)]
    by_queue: dict[int, list[CallIn]] = {}
    for c in calls:
        by_queue.setdefault(c.queue, []).append(c)
    records = {q: fairness.Record(rng.randint(0, 40), 40) for q in terms}
    seats = {q: rng.randint(0, 3) for q in terms}
    the_floor = fairness.Floor(records, seats, 1000, fairness.DEFAULT_HARD_LIMIT)

    def operator(i: int) -> OperatorIn:
        skills = {q: SkillIn(rng.randint(1, 3)) for q in rng.sample(range(500), 10)}
        return OperatorIn(i, rng.random(), skills)

    result: dict[str, float] = {}
    for name, count in (("one_operator", 1), ("100_operators", 100)):
        samples: dict[bool, list[float]] = {True: [], False: []}
        for round_ in range(100 if quick else 400):
            ops = [operator(i) for i in range(count)]
            mine = [c for q in {q for o in ops for q in o.skills} for c in by_queue.get(q, [])]
            fair = round_ % 2 == 1
            started = time.perf_counter()
            pairs(mine, ops, rules, now, the_floor if fair else None)
            samples[fair].append((time.perf_counter() - started) * 1000)
        for fair, values in samples.items():
            values.sort()
            label = f"policy_{name}_{'fair' if fair else 'todays_order'}_ms"
            result[label + "_p50"] = round(values[len(values) // 2], 3)
            result[label + "_p99"] = round(values[min(len(values) - 1, int(len(values) * 0.99))], 3)
    return result


def _spread(per_company: dict[str, dict[str, object]]) -> float:
    ratios = [row["achieved_of_target"] for row in per_company.values()]
    ratios = [ratio for ratio in ratios if ratio is not None]
    return round(max(ratios) - min(ratios), 3)


def run(quick: bool) -> dict[str, object]:
    seeds = range(1 if quick else SEEDS)
    started = time.perf_counter()
    loads = {}
    for load in LOADS:
        fair = figures([simulate(load, True, seed) for seed in seeds])
        today = figures([simulate(load, False, seed) for seed in seeds])
        loads[f"{round(load * 100)}%"] = {
            "fair": fair,
            "todays_order": today,
            # max - min of achieved / target over the companies: 0 when misses are in proportion
            "achieved_of_target_spread": _spread(fair),
            "todays_order_achieved_of_target_spread": _spread(today),
            "goals": goals(fair, load),
        }
    return {
        "pool": POOL,
        "handle_s": HANDLE_SECONDS,
        "patience_s": PATIENCE_SECONDS,
        "window_s": WINDOW_SECONDS,
        "hard_limit_s": fairness.DEFAULT_HARD_LIMIT,
        "simulated_hours_per_run": MEASURED / 3600,
        "seeds": len(seeds),
        "loads": loads,
        "all_goals_met": all(all(v["goals"].values()) for v in loads.values()),
        **policy_cost(quick),
        "wall_s": round(time.perf_counter() - started, 1),
    }
