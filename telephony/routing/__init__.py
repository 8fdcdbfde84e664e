"""The router: waiting calls of every client company meet the shared pool of operators (R11, R14-R17, R20).

Cross-tenant by design: its tables live in the public schema, and this package is the one place
that reads them across companies. Every write is in ``transaction.atomic()``; operator states
change only through ``telephony.operators.transition``; pushes to consoles go on commit.

- ``matching``: the policy, pure (which call goes to which operator);
- ``queues``: queue rules kept per process, queue length, expected wait;
- ``offers``: reservations written for a match (``SKIP LOCKED``);
- ``passes``: ``match``, the passes that never wait for a lock;
- ``decisions``: accept, reject, expiry, an offer closed;
- ``waiting``: a call put in line and taken out;
- ``presence``: the operator's own requests, and a freed operator served (inbound, then others);
- ``callbacks``: a callback that keeps the caller's place (stays in line, deferred between tries).

Lock order, wherever a function waits for a lock: the waiting call, then the operator profile,
then the reservation.
"""

from telephony.routing.decisions import (
    Accepted,
    accept,
    bridge_failed,
    close_offer,
    expire_reservations,
    reject,
)
from telephony.routing.passes import anyone_free, match
from telephony.routing.presence import operator_set_state, profile_set_state, serve_freed_operator
from telephony.routing.queues import door, expected_wait, rules_for, staffed, staffed_queues, turn
from telephony.routing.waiting import enqueue, leave, leave_line, leave_unconnected

__all__ = [
    "Accepted",
    "accept",
    "anyone_free",
    "bridge_failed",
    "close_offer",
    "door",
    "enqueue",
    "expected_wait",
    "expire_reservations",
    "leave",
    "leave_line",
    "leave_unconnected",
    "match",
    "operator_set_state",
    "profile_set_state",
    "reject",
    "rules_for",
    "serve_freed_operator",
    "staffed",
    "staffed_queues",
    "turn",
]
