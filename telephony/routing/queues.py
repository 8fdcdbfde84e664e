"""The queues as the router sees them: their rules, kept in each process, and what a caller hears.

Queue settings change rarely: they are read for all queues at once and kept until they change
(``config.process_cache``): each save or delete of a queue (or a company: its name is in them)
bumps their version in Redis as it commits (``note_rules_change``), and each process compares its
snapshot's version at most once a second (``RULES_VERSION_EVERY``) and reads them again when it
differs. A new queue is read on first sight; ``QUEUE_RULES_SECONDS`` bounds a snapshot besides (a
write that sends no signal), 5 s with Redis away. A match takes one snapshot and uses it throughout.
Until 2026-12-06 every process read every queue every 5 s: 1,000 rows at 1,000 companies,
O(companies) work whatever the calls (issue 23).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.db.models import Avg, F
from django.utils import timezone

from config import change_versions
from config.process_cache import ProcessCache
from telephony.models import Queue
from telephony.routing import fairness, matching, sql
from telephony.routing_models import WaitingCall
from tenants.models import Client

QUEUE_RULES_SECONDS = 300.0
RULES_VERSION = "queue-rules-version"  # in Redis (``config.change_versions``)
RULES_VERSION_EVERY = 1.0  # seconds between a process's reads of it
DEFAULT_HANDLE_SECONDS = 180.0
ANSWER_WINDOW = timedelta(minutes=60)
# A call answered longer than this before the window began is left out of the mean handle time (it
# bounds the read to recent calls: the queue's history is not read on every wait).
LONGEST_CALL = timedelta(hours=4)
HANDLE_KEPT_SECONDS = 60.0
IN_LINE = (WaitingCall.State.WAITING, WaitingCall.State.RESERVED)


class QueueRow(NamedTuple):
    id: int
    overflow_after: int
    overflow_queue_id: int | None
    ring_timeout: int
    name: str
    tenant_name: str
    tenant_id: int
    max_wait: int  # seconds a caller may wait before leaving the line (R18)
    terms: fairness.Terms  # the contract's (issue 20)

    @property
    def rule(self) -> matching.QueueRule:
        return matching.QueueRule(
            float(self.overflow_after), self.overflow_queue_id, self.tenant_id, self.terms
        )


def _load() -> dict[int, QueueRow]:
    rows = Queue.objects.order_by().values_list(
        "id", "overflow_after", "overflow_queue_id", "ring_timeout", "name", "tenant__name", "tenant_id",
        "max_wait", "sl_target_percent", "service_level_seconds", "reserved_seats", "max_seats",
        "max_share_percent",
    )  # fmt: skip
    return {row[0]: QueueRow(*row[:8], fairness.Terms(*row[8:])) for row in rows}


# Every queue id the router asks for comes from a row: one it has not seen is new, so a miss
# reloads at once (no throttle), and a pass never meets a queue without its rules.
RULES: ProcessCache[int, QueueRow] = ProcessCache(
    ttl=QUEUE_RULES_SECONDS,
    load_all=_load,
    version=lambda: change_versions.current(RULES_VERSION),
    version_every=RULES_VERSION_EVERY,
    miss_reload_seconds=0,
).invalidate_on_save(Queue, Client)


def note_rules_change(sender: type, **kwargs: object) -> None:
    """``post_save``/``post_delete`` receiver of ``Queue`` and ``Client`` (connected in
    ``TelephonyConfig.ready``): every process reads the queues' rules again once this commits."""
    if not kwargs.get("raw"):
        change_versions.bump_on_commit(RULES_VERSION)


def rules_for(ids: Iterable[int]) -> Mapping[int, QueueRow]:
    """One snapshot of every queue's rules that holds these queues (when they exist)."""
    snapshot = RULES.snapshot()
    missing = [q for q in ids if q not in snapshot]
    return RULES.snapshot(want=missing[0]) if missing else snapshot


def served(queue_ids: Iterable[int], rules: Mapping[int, QueueRow]) -> set[int]:
    """These queues and the queues they overflow to: whose operators may take their calls."""
    ids = set(queue_ids)
    return ids | {rules[q].overflow_queue_id for q in ids if q in rules} - {None}


def overflowing_into(queue_ids: set[int], rules: Mapping[int, QueueRow]) -> set[int]:
    """The queues whose calls may overflow to one of these."""
    return {row.id for row in rules.values() if row.overflow_queue_id in queue_ids}


def staffed_queues(queue_ids: Iterable[int]) -> set[int]:
    """The queues among these that are staffed: someone could take their calls now or soon (an
    operator with a skill on the queue, or on the queue it overflows to, logged in and not on a
    break) whose certificate for the company is valid. The one definition of "nobody staffed", for
    the call flow and the conference exits."""
    ids = set(queue_ids)
    rules = rules_for(ids)
    working = sql.staffed(queue_ids=served(ids, rules), now=timezone.now())
    return {q for q in ids if served([q], rules) & working}


class Door(NamedTuple):
    """What a caller about to join a queue is checked against (``door``)."""

    full: bool  # the queue holds ``max_length`` calls already (voicemail or a callback instead)
    staffed: bool  # ``staffed``


def door(*, queue: Queue) -> Door:
    """Whether the queue is full and whether anyone is staffed for it, in one statement (the
    incoming call asks both)."""
    rules = rules_for([queue.pk])
    in_line, working = sql.line_and_staffed(
        queue_id=queue.pk, up_to=queue.max_length, served=served([queue.pk], rules), now=timezone.now()
    )
    return Door(full=in_line >= queue.max_length, staffed=bool(working))


def staffed(*, queue_id: int) -> bool:
    """Whether anyone is staffed for this queue (``staffed_queues``)."""
    return queue_id in staffed_queues([queue_id])


class Turn(NamedTuple):
    """What one wait URL tells the caller (``turn``)."""

    staffed: bool  # ``staffed`` for the queue asked about
    position: int  # ``expected_wait``
    seconds: int


def turn(*, call_sid: str, queue_id: int | None = None, now: datetime | None = None) -> Turn:
    """Whether anyone is staffed for ``queue_id`` (``staffed``; False without a queue) and where
    the caller waiting as ``call_sid`` stands (``expected_wait``), in one statement: each wait URL
    asks both."""
    now = now or timezone.now()
    rules = rules_for([queue_id]) if queue_id is not None else {}
    asked = served([queue_id], rules) if queue_id is not None else set()
    standing = sql.where_in_line(call_sid=call_sid, queues=asked, now=now)
    staffed = bool(asked & standing.staffed)
    if not standing.in_line:
        return Turn(staffed, 0, 0)
    position = standing.ahead + 1
    if standing.staffed_here == 0:
        return Turn(staffed, position, rules_for([standing.queue_id])[standing.queue_id].max_wait)
    handle = MEAN_HANDLE_KEPT.get((standing.queue_id, int(now.timestamp() // 60)))
    rounds = -(-position // standing.staffed_here)
    return Turn(staffed, position, round(rounds * handle))


def expected_wait(*, call_sid: str, now: datetime | None = None) -> tuple[int, int]:
    """``(position, seconds)`` for the caller waiting as ``call_sid`` (R18); ``(0, 0)`` when it is
    no longer in line.

    position: 1 + the calls of the same queue served before it (higher priority, or the same
    priority and enqueued earlier). seconds = ceil(position / staffed) * handle, where staffed is
    the operators with a skill on the queue who are logged in and not on a break, and handle is
    the mean time from answer to end of the queue's calls ended in the last hour (180 s without
    any; ``_mean_handle``). With nobody staffed, the queue's maximum wait: the caller will be
    offered a callback.
    """
    found = turn(call_sid=call_sid, now=now)
    return found.position, found.seconds


def _mean_handle(key: tuple[int, int]) -> float:
    """The mean seconds from answer to end of the queue's calls that ended in the hour up to the
    end of the minute ``key`` names (``DEFAULT_HANDLE_SECONDS`` without any), averaged by the
    database over recent calls only (``LONGEST_CALL``)."""
    queue_id, minute = key
    since = datetime.fromtimestamp((minute + 1) * 60, tz=UTC) - ANSWER_WINDOW
    mean = WaitingCall.objects.filter(
        queue_id=queue_id, answered_at__gte=since - LONGEST_CALL, left_at__gte=since
    ).aggregate(mean=Avg(F("left_at") - F("answered_at")))["mean"]
    return mean.total_seconds() if mean is not None else DEFAULT_HANDLE_SECONDS


# Every wait announcement asks for it: kept per queue and minute in each process, not read each time.
MEAN_HANDLE_KEPT: ProcessCache[tuple[int, int], float] = ProcessCache(
    ttl=HANDLE_KEPT_SECONDS, load_one=_mean_handle
)
