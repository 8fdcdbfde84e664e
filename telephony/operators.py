"""The operator state machine (R15, R16) and its one writer: offline, available, reserved, on call,
wrap-up, break.

Every change of an operator's state goes through ``transition`` (one transition table, one event
row per change, the console told on commit); nothing else writes ``OperatorProfile.state``. The
router (``telephony.routing``) and the dialer (``outbound``) decide *when*; this module checks the
move is legal and records it. The operator's own requests are a subset (``REQUESTABLE``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import Role
from telephony.events import announce_on_commit, operator_available
from telephony.pushes import push_on_commit
from telephony.routing_models import OperatorEvent, OperatorProfile, OperatorState

S = OperatorState
# Every move an operator's state may make, whoever asks (staying put is always allowed).
TRANSITIONS: dict[str, frozenset[str]] = {
    S.OFFLINE: frozenset({S.AVAILABLE, S.BREAK}),
    S.AVAILABLE: frozenset({S.RESERVED, S.ON_CALL, S.BREAK, S.OFFLINE}),  # on call: an outbound call
    S.RESERVED: frozenset({S.ON_CALL, S.AVAILABLE, S.BREAK, S.OFFLINE}),
    # available: nobody was connected; break: their leg never joined the call's conference (misses)
    S.ON_CALL: frozenset({S.WRAP_UP, S.AVAILABLE, S.BREAK, S.OFFLINE}),
    S.WRAP_UP: frozenset({S.AVAILABLE, S.BREAK, S.OFFLINE}),
    S.BREAK: frozenset({S.AVAILABLE, S.OFFLINE}),
}
# What an operator (or their console, or a supervisor for them) may ask for, from each state.
REQUESTABLE: dict[str, frozenset[str]] = {
    S.OFFLINE: frozenset({S.AVAILABLE, S.BREAK, S.OFFLINE}),
    S.AVAILABLE: frozenset({S.AVAILABLE, S.BREAK, S.OFFLINE}),
    S.RESERVED: frozenset({S.AVAILABLE, S.BREAK, S.OFFLINE}),
    S.ON_CALL: frozenset({S.ON_CALL, S.WRAP_UP, S.OFFLINE}),
    S.WRAP_UP: frozenset({S.WRAP_UP, S.AVAILABLE, S.BREAK, S.OFFLINE}),
    S.BREAK: frozenset({S.BREAK, S.AVAILABLE, S.OFFLINE}),
}
AWAY_REASON = "missed offers"

# ``transition``'s writes in one statement (one round trip; the ORM needs three): the operators
# whose state moves, those whose idle time or misses only change, and an event for each. The one
# statement of the project that writes ``OperatorProfile.state``; values are parameters, a
# parameter left NULL keeps the column as it is.
TRANSITION_SQL = """
WITH moved AS (
    UPDATE telephony_operatorprofile
    SET state = %(state)s, break_reason = %(break_reason)s, state_since = %(now)s,
        idle_since = COALESCE(%(idle_since)s::timestamptz, idle_since),
        missed_offers = COALESCE(%(missed_offers)s::integer, missed_offers)
    WHERE id = ANY(%(moved)s::bigint[])
), touched AS (
    UPDATE telephony_operatorprofile
    SET idle_since = COALESCE(%(idle_since)s::timestamptz, idle_since),
        missed_offers = COALESCE(%(missed_offers)s::integer, missed_offers)
    WHERE id = ANY(%(touched)s::bigint[])
)
INSERT INTO telephony_operatorevent (operator_id, at, kind, state, reason, call_sid, tenant_id)
SELECT event.operator_id, %(now)s, %(kind)s, %(state)s, %(reason)s, event.call_sid, event.tenant_id
FROM unnest(%(changed)s::bigint[], %(call_sids)s::text[], %(tenant_ids)s::bigint[])
    AS event(operator_id, call_sid, tenant_id)
"""


class InvalidTransition(ValueError):
    pass


def misses_before_away() -> int:
    """Consecutive unanswered offers after which the operator is set on a break (away)."""
    return getattr(settings, "ROUTING_MISSES_BEFORE_AWAY", 3)


def profile_for(user) -> OperatorProfile:
    """The operator's routing profile, created offline on first use; operators only."""
    if getattr(user, "role", None) != Role.OPERATOR:
        raise PermissionError("Only operators take calls.")
    now = timezone.now()
    profile, _ = OperatorProfile.objects.get_or_create(
        user=user, defaults={"state_since": now, "idle_since": now}
    )
    return profile


def record(
    *,
    operator_id: int,
    kind: str,
    state: str = "",
    reason: str = "",
    call_sid: str = "",
    tenant_id: int | None = None,
    now: datetime,
) -> OperatorEvent:
    """An event about the operator that changes no state (an offer rejected, a call ended…)."""
    return OperatorEvent.objects.create(
        operator_id=operator_id,
        at=now,
        kind=kind,
        state=state,
        reason=reason[:80],
        call_sid=call_sid,
        tenant_id=tenant_id,
    )


def check_request(profile: OperatorProfile, state: str) -> None:
    """Refuse what an operator may not ask for from their current state."""
    if state not in REQUESTABLE[S(profile.state)]:
        raise InvalidTransition(f"{profile.state} → {state}")


def transition(
    profiles: Iterable[OperatorProfile],
    state: str,
    *,
    now: datetime,
    kind: str = "state",
    reason: str = "",
    call_sids: dict[int, str] | None = None,
    tenant_ids: dict[int, int] | None = None,
    idle_since: datetime | None = None,
    missed_offers: int | None = None,
    announce: bool = True,
    then: Mapping[int, dict[str, Any]] | None = None,
) -> list[OperatorProfile]:
    """Move these operators (rows locked by the caller) to ``state``: the one writer of operator state.

    Each change is checked against ``TRANSITIONS``, written with its event (``kind``; per operator
    ``call_sids``/``tenant_ids`` when it is about a call) and pushed to the console on commit. An
    operator who becomes available is announced (``events.operator_available``) once it commits,
    unless ``announce`` is False: the caller then announces them itself when they stay free.
    ``idle_since``/``missed_offers``: set too (fairness, misses). ``then``: by operator, a message
    their console receives after their state, in the same push (an offer after ``reserved``).
    Returns the profiles changed.
    """
    state, profiles = S(state), list(profiles)
    break_reason = reason if state == S.BREAK else ""
    moved: list[OperatorProfile] = []  # their state (or break reason) changes
    touched: list[OperatorProfile] = []  # only their idle time or misses change
    for profile in profiles:
        same = profile.state == state and profile.break_reason == break_reason
        if not same and state != profile.state and state not in TRANSITIONS[S(profile.state)]:
            raise InvalidTransition(f"{profile.state} → {state}")
        if not same:
            profile.state, profile.break_reason, profile.state_since = state, break_reason, now
            moved.append(profile)
        elif idle_since is not None or missed_offers is not None:
            touched.append(profile)
        if idle_since is not None:
            profile.idle_since = idle_since
        if missed_offers is not None:
            profile.missed_offers = missed_offers
    changed = moved + touched
    then = then or {}
    pushed = {p.pk for p in changed}
    for profile in profiles:  # their state stays: the message goes alone
        if profile.pk in then and profile.pk not in pushed:
            push_on_commit(user_id=profile.user_id, message=then[profile.pk])
    if not changed:
        return changed
    with connection.cursor() as cursor:
        cursor.execute(
            TRANSITION_SQL,
            {
                "state": str(state), "break_reason": break_reason, "now": now, "idle_since": idle_since,
                "missed_offers": missed_offers, "kind": kind, "reason": reason[:80],
                "moved": [p.pk for p in moved], "touched": [p.pk for p in touched],
                "changed": [p.pk for p in changed],
                "call_sids": [(call_sids or {}).get(p.pk, "") for p in changed],
                "tenant_ids": [(tenant_ids or {}).get(p.pk) for p in changed],
            },
        )  # fmt: skip
    message = {"type": "state", "state": state, "reason": break_reason}
    for profile in changed:
        push_on_commit(
            user_id=profile.user_id, message=[message, then[profile.pk]] if profile.pk in then else message
        )
        if state == S.AVAILABLE and announce:
            announce_on_commit(operator_available, operator_id=profile.pk, now=now)
    return changed
