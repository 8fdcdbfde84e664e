"""Fairness between client companies, pure (no Django): whose call the next free operator takes
when operators are short (issue 20; R11, R17, R20).

Each queue carries its contract's terms (``Terms``): a service-level target (``sl_percent`` % of
calls answered within ``sl_seconds``), optionally reserved seats and a maximum share (seats, or a
percent of the pool logged in). A company's queues are its accounts. The order of a match, one
call at a time (``Chooser``), by class first:

1. **reserved**: a queue using fewer seats than it reserved, with a call waiting;
2. **starving**: a call that has waited ``hard_limit`` seconds or more (longest waiting first):
   no company starves, however far ahead of its target;
3. **behind**: every other call, the company furthest behind its own target first;
4. **capped**: a queue using its maximum share already: served only once no other company's
   call can use the operator (a cap is never exceeded while another company waits).

"Behind" is the relative shortfall ``(target - achieved) / target`` of the queue's service level
over the sliding window (``Record``: the calls that waited in it recently, counted as
docs/architecture.md §7 and ``reporting.kpis`` count them), with its calls still waiting past the
threshold counted as misses (as the live wallboard counts them), smoothed by ``PRIOR_CALLS``
calls at the target (a quiet queue is not "0 % behind" after one miss), plus ``URGENCY`` times
how close the company's next call is to its threshold (``waited / sl_seconds``; 0 once past it:
answering it no longer changes the service level). Relative shortfalls spread the misses in
proportion to the targets. Each call taken updates its queue (seats, the call counted within or
late), so one pass shares a batch of operators rather than giving them all to one company.

Inside one company today's order stands: its next call is its first by priority and longest
wait (``matching.call_order``), and the operator for it is chosen as before (tier, longest idle).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

PRIOR_CALLS = 5
URGENCY = 0.25
DEFAULT_HARD_LIMIT = 120.0
DEFAULT_SHORT_ABANDON_SECONDS = 5

RESERVED, STARVING, BEHIND, CAPPED = 0, 1, 2, 3
CLASS_NAMES = {RESERVED: "reserved", STARVING: "starving", BEHIND: "behind", CAPPED: "capped"}


@dataclass(frozen=True, slots=True)
class Terms:
    """A queue's contract terms (``telephony.Queue``, provisioned from the contract)."""

    sl_percent: int = 80
    sl_seconds: int = 20
    reserved_seats: int = 0
    max_seats: int | None = None
    max_percent: int | None = None

    @property
    def bounded(self) -> bool:
        """Whether seats matter (a reservation or a cap): then the router counts them."""
        return self.reserved_seats > 0 or self.max_seats is not None or self.max_percent is not None

    def cap(self, pool: int) -> int | None:
        """The most seats at once, for a pool of ``pool`` operators logged in; None: no cap."""
        caps = [self.max_seats] if self.max_seats is not None else []
        if self.max_percent is not None:
            caps.append(pool * self.max_percent // 100)
        return min(caps) if caps else None


NO_TERMS = Terms()


@dataclass(frozen=True, slots=True)
class Record:
    """A queue's calls of the sliding window: answered within the threshold, and counted (offered
    less short abandons, as §7 counts them); calls still waiting are not in it."""

    within: int = 0
    counted: int = 0

    def add(self, *, waited_ms: int, answered: bool, abandoned: bool, terms: Terms,
            short_abandon_seconds: int = DEFAULT_SHORT_ABANDON_SECONDS) -> Record:  # fmt: skip
        """This record with one more call that left the line (§7's definitions, in milliseconds)."""
        if abandoned and not answered and waited_ms <= short_abandon_seconds * 1000:
            return self
        within = answered and waited_ms <= terms.sl_seconds * 1000
        return Record(self.within + within, self.counted + 1)


@dataclass(frozen=True, slots=True)
class Floor:
    """What fairness knows beyond the calls: each queue's record and seats in use (offered or on a
    call), the operators logged in (``pool``: for caps in percent) and the hard limit (seconds)."""

    records: Mapping[int, Record] = field(default_factory=dict)
    seats: Mapping[int, int] = field(default_factory=dict)
    pool: int = 0
    hard_limit: float = DEFAULT_HARD_LIMIT


def achieved(within: int, counted: int, target: float) -> float:
    """The service level (0 to 1) of a record, smoothed by ``PRIOR_CALLS`` calls at the target."""
    return (within + PRIOR_CALLS * target) / (counted + PRIOR_CALLS)


class Account:
    """One queue during a match: its terms and figures, updated as its calls are taken."""

    __slots__ = (
        "at_age", "at_order", "by_age", "by_order", "company", "counted", "done", "lost", "queue", "seats",
        "terms", "within",
    )  # fmt: skip

    def __init__(self, queue: int, company: int, terms: Terms, record: Record, seats: int) -> None:
        self.queue, self.company, self.terms = queue, company, terms
        self.within, self.counted, self.seats = record.within, record.counted, seats
        self.lost = 0  # calls waiting past the threshold: misses whatever happens next
        self.by_order: list = []  # today's order
        self.by_age: list = []  # longest waiting first
        self.at_order = self.at_age = 0  # cursors past the calls done
        self.done: set[int] = set()

    @property
    def target(self) -> float:
        return self.terms.sl_percent / 100

    def level(self) -> float:
        """The live service level: the window's, with the calls waiting past the threshold missed."""
        return achieved(self.within, self.counted + self.lost, self.target)

    def shortfall(self) -> float:
        """How far behind its target, relative to it (negative: ahead)."""
        return (self.target - self.level()) / self.target

    def kind(self, pool: int) -> int:
        if self.seats < self.terms.reserved_seats:
            return RESERVED
        cap = self.terms.cap(pool)
        return CAPPED if cap is not None and self.seats >= cap else BEHIND

    def head(self) -> object | None:
        """The queue's next call in today's order."""
        while self.at_order < len(self.by_order) and self.by_order[self.at_order].id in self.done:
            self.at_order += 1
        return self.by_order[self.at_order] if self.at_order < len(self.by_order) else None

    def oldest(self) -> object | None:
        while self.at_age < len(self.by_age) and self.by_age[self.at_age].id in self.done:
            self.at_age += 1
        return self.by_age[self.at_age] if self.at_age < len(self.by_age) else None

    def score(self, call: object, now: float) -> float:
        waited = now - call.enqueued_at  # type: ignore[attr-defined]
        soon = waited / self.terms.sl_seconds if waited <= self.terms.sl_seconds else 0.0
        return self.shortfall() + URGENCY * soon


class Chooser:
    """The calls of a match in fairness order, one at a time (iterate); after a call is given an
    operator the caller says so (``took``), which updates its queue before the next choice. A call
    the caller could not serve is dropped (nobody left could take it)."""

    def __init__(
        self,
        calls: Iterable,
        companies: Mapping[int, int],
        terms: Mapping[int, Terms],
        floor: Floor,
        now: float,
        order_key,
    ) -> None:
        self.now, self.floor, self.order_key = now, floor, order_key
        self.accounts: dict[int, Account] = {}
        self.by_company: dict[int, list[Account]] = {}
        for call in calls:
            account = self.accounts.get(call.queue)
            if account is None:
                queue = call.queue
                account = Account(
                    queue, companies.get(queue, -queue), terms.get(queue, NO_TERMS),
                    floor.records.get(queue, Record()), floor.seats.get(queue, 0),
                )  # fmt: skip
                self.accounts[queue] = account
                self.by_company.setdefault(account.company, []).append(account)
            account.by_order.append(call)
            if now - call.enqueued_at > account.terms.sl_seconds:
                account.lost += 1
        for account in self.accounts.values():
            account.by_order.sort(key=order_key)
            account.by_age = sorted(account.by_order, key=lambda c: (c.enqueued_at, c.id))
        self._version: dict[int, int] = {}
        self._heap: list = []
        self.last: tuple | None = None  # (call, account, class) just yielded
        for company in self.by_company:
            self._push(company)

    def choice(self, company: int) -> tuple[tuple, object, Account] | None:
        """The company's next call now: ``(key, call, account)``, smallest key first."""
        pool, now = self.floor.pool, self.now
        best_class, candidates = None, []
        for account in self.by_company[company]:
            head = account.head()
            if head is None:
                continue
            kind, call = account.kind(pool), head
            if kind == BEHIND:
                oldest = account.oldest()
                if now - oldest.enqueued_at >= self.floor.hard_limit:
                    kind, call = STARVING, oldest
            if best_class is None or kind < best_class:
                best_class, candidates = kind, [(call, account)]
            elif kind == best_class:
                candidates.append((call, account))
        if best_class is None:
            return None
        if best_class == STARVING:
            call, account = min(candidates, key=lambda ca: (ca[0].enqueued_at, ca[0].id))
            return (STARVING, call.enqueued_at, 0.0, call.id), call, account
        call, account = min(candidates, key=lambda ca: self.order_key(ca[0]))
        score = max(a.score(c, now) for c, a in candidates)
        return (best_class, -score, call.enqueued_at, call.id), call, account

    def _push(self, company: int) -> None:
        version = self._version.get(company, 0) + 1
        self._version[company] = version
        found = self.choice(company)
        if found is not None:
            heapq.heappush(self._heap, (found[0], version, company))

    def __iter__(self) -> Iterator:
        while self._heap:
            _, version, company = heapq.heappop(self._heap)
            if self._version.get(company) != version:
                continue
            found = self.choice(company)
            if found is None:
                continue
            key, call, account = found
            self.last = (call, account, key[0])
            yield call
            account.done.add(call.id)  # taken or not: nobody left can take it in this match
            self._push(company)

    def took(self, call: object) -> None:
        """The call just yielded was given an operator: one more seat, and a call answered."""
        assert self.last is not None and self.last[0] is call
        account = self.last[1]
        account.seats += 1
        if self.now - call.enqueued_at > account.terms.sl_seconds:  # type: ignore[attr-defined]
            account.lost -= 1  # a miss still, now answered late
        else:
            account.within += 1
        account.counted += 1


@dataclass(frozen=True, slots=True)
class Standing:
    """A queue's standing as the router sees it now, for the wallboard and the back office."""

    queue: int
    company: int
    terms: Terms
    level: float
    seats: int
    cap: int | None
    kind: str
    score: float
    waiting: int
    within: int  # the window's calls answered within the threshold…
    counted: int  # …of these (offered less short abandons), the calls waiting past it included


def standings(chooser: Chooser, others: Mapping[int, tuple[int, Terms]] | None = None) -> list[Standing]:
    """Each queue with calls waiting (and each of ``others``: queue → (company, terms)), its class
    and score before anyone is served."""
    floor, now = chooser.floor, chooser.now
    accounts = dict(chooser.accounts)
    for queue, (company, terms) in (others or {}).items():
        if queue not in accounts:
            accounts[queue] = Account(
                queue, company, terms, floor.records.get(queue, Record()), floor.seats.get(queue, 0)
            )
    result = []
    for account in accounts.values():
        head = account.head()
        kind = account.kind(floor.pool)
        if kind == BEHIND and head is not None:
            oldest = account.oldest()
            if oldest is not None and now - oldest.enqueued_at >= floor.hard_limit:
                kind = STARVING
        result.append(
            Standing(
                queue=account.queue, company=account.company, terms=account.terms, level=account.level(),
                seats=account.seats, cap=account.terms.cap(floor.pool), kind=CLASS_NAMES[kind],
                score=account.score(head, now) if head is not None else account.shortfall(),
                waiting=len(account.by_order), within=account.within, counted=account.counted + account.lost,
            )
        )  # fmt: skip
    return result


def favoured(chooser: Chooser) -> tuple[object, Account, str] | None:
    """The call the next free operator would take, with its queue and class, before anyone is
    served (an operator eligible for every queue)."""
    for call in chooser:
        return call, chooser.last[1], CLASS_NAMES[chooser.last[2]]
    return None


def reason(kind: str, standing: Standing) -> str:
    """Why a queue is favoured, in a supervisor's words."""
    level = round(standing.level * 100)
    target = f"{standing.terms.sl_percent} % in {standing.terms.sl_seconds} s"
    if kind == "reserved":
        seats = f"{standing.seats} of its {standing.terms.reserved_seats} reserved seats"
        return f"uses {seats} with calls waiting"
    if kind == "starving":
        return "a call has waited past the hard limit"
    if kind == "capped":
        return f"at its cap of {standing.cap} seats, and nobody else waits"
    return f"furthest behind its target: {level} % against {target}"
