"""The operator state machine (R15, R16): offline, available, reserved, on call, wrap-up, break.

``reserved`` and ``on_call`` are set by the router only (an offer, an accepted offer); everything
else is the operator's own choice or their console's connection. Every change is an event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Role
from telephony.pushes import push_on_commit
from telephony.routing_models import (
    OperatorEvent,
    OperatorProfile,
    OperatorState,
    Reservation,
    WaitingCall,
)
from telephony.rows import columns, load

log = logging.getLogger(__name__)

S = OperatorState
# What an operator (or their console) may ask for, from each state.
ALLOWED = {
    S.OFFLINE: {S.AVAILABLE, S.BREAK, S.OFFLINE},
    S.AVAILABLE: {S.AVAILABLE, S.BREAK, S.OFFLINE},
    S.RESERVED: {S.AVAILABLE, S.BREAK, S.OFFLINE},
    S.ON_CALL: {S.ON_CALL, S.WRAP_UP, S.OFFLINE},
    S.WRAP_UP: {S.WRAP_UP, S.AVAILABLE, S.BREAK, S.OFFLINE},
    S.BREAK: {S.BREAK, S.AVAILABLE, S.OFFLINE},
}
AWAY_REASON = "missed offers"


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
    save: bool = True,
) -> OperatorEvent:
    event = OperatorEvent(
        operator_id=operator_id, at=now, kind=kind, state=state, reason=reason, call_sid=call_sid,
        tenant_id=tenant_id,
    )  # fmt: skip
    if save:
        event.save()
    return event


def _rematch_on_commit(*, queue_id: int | None = None, operator_id: int | None = None) -> None:
    from telephony.routing import match

    if queue_id is not None:
        transaction.on_commit(lambda: match(queue_ids=[queue_id]))
    if operator_id is not None:
        transaction.on_commit(_inbound_then_outbound(operator_id))


def _inbound_then_outbound(operator_id: int) -> Callable[[], None]:
    def run() -> None:
        from telephony.routing import match

        if not match(operator_ids=[operator_id]):  # an inbound call took them: no outbound
            _outbound_work(operator_id)

    return run


def _outbound_work(operator_id: int) -> None:
    """After inbound had its chance (``match`` made no offer), ask the dialer for outbound work.

    A broker outage must not break the operator's state change: it is logged, and the dialer's
    periodic tick finds the operator anyway.
    """
    from outbound.tasks import dial_for_operators

    try:
        dial_for_operators.delay([operator_id])
    except Exception:
        log.exception("could not ask the dialer for work for operator %s", operator_id)


def cancel_offer(
    *,
    reservation: Reservation,
    call: WaitingCall,
    operator: OperatorProfile,
    reason: str,
    now: datetime,
    state: str = Reservation.State.CANCELLED,
    release_operator: bool = True,
) -> None:
    """Close a ringing offer (rows locked by the caller): the call keeps its place in line.

    The operator becomes available again (or away after repeated misses) unless
    ``release_operator`` is False (the caller sets their next state itself).
    """
    reservation.state, reservation.closed_at, reservation.reason = state, now, reason
    reservation.save(update_fields=["state", "closed_at", "reason"])
    record(operator_id=operator.pk, kind=str(state), reason=reason, call_sid=call.call_sid,
           tenant_id=call.tenant_id, now=now)  # fmt: skip
    push_on_commit(
        user_id=operator.user_id,
        message={"type": "offer_cancelled", "reservation": reservation.pk, "reason": reason},
    )
    if call.state == WaitingCall.State.RESERVED:
        call.state = WaitingCall.State.WAITING
        call.save(update_fields=["state"])
        _rematch_on_commit(queue_id=call.queue_id)
    if operator.state != S.RESERVED or not release_operator:
        return
    if state == Reservation.State.EXPIRED:
        operator.missed_offers += 1
        if operator.missed_offers >= misses_before_away():
            _set(operator, S.BREAK, AWAY_REASON, now)
            return
        operator.idle_since = now
    elif state == Reservation.State.REJECTED:
        operator.missed_offers = 0
        operator.idle_since = now  # to the back of the line: other idle operators get it first
    _set(operator, S.AVAILABLE, "", now)
    _rematch_on_commit(operator_id=operator.pk)


# A state change and its event in one statement (every call's operator goes through it); the
# operator's skills come with it when they become available, for the match that follows.
SET_STATE_SQL = """
WITH changed AS (
    UPDATE public.telephony_operatorprofile
    SET state = %(state)s, break_reason = %(reason)s, state_since = %(since)s, idle_since = %(idle)s,
        missed_offers = %(missed)s
    WHERE id = %(id)s
    RETURNING id
), event AS (
    INSERT INTO public.telephony_operatorevent (operator_id, at, kind, state, reason, call_sid, tenant_id)
    SELECT id, %(now)s, 'state', %(state)s, %(reason)s, '', NULL FROM changed
)
SELECT {skills}
"""
# An operator's skills as ``[queue, tier, languages]`` rows: what the router matches on (also in
# its ``LOCK_OPERATORS_SQL``).
SKILLS_SQL = """COALESCE((SELECT json_agg(json_build_array(s.queue_id, s.tier, s.languages))
                 FROM public.telephony_skill s WHERE s.operator_id = {operator}), '[]'::json)"""
SET_STATE_WITH_SKILLS_SQL = SET_STATE_SQL.format(skills=SKILLS_SQL.format(operator="%(id)s"))
SET_STATE_ONLY_SQL = SET_STATE_SQL.format(skills="NULL")


def _set(
    profile: OperatorProfile, state: str, reason: str, now: datetime, *, skills: bool = False
) -> list | None:
    """Write the state (and its event); with ``skills``, return the operator's skills (rows of
    ``SKILLS_SQL``) read in the same statement, for a match that follows."""
    if profile.state != state or profile.break_reason != reason:
        profile.state, profile.break_reason, profile.state_since = state, reason, now
    with connection.cursor() as cursor:
        cursor.execute(
            SET_STATE_WITH_SKILLS_SQL if skills else SET_STATE_ONLY_SQL,
            {
                "id": profile.pk, "state": str(state), "reason": reason, "since": profile.state_since,
                "idle": profile.idle_since, "missed": profile.missed_offers, "now": now,
            },
        )  # fmt: skip
        read = cursor.fetchone()[0]
    push_on_commit(user_id=profile.user_id, message={"type": "state", "state": state, "reason": reason})
    return read


def operator_set_state(
    *, operator, state: str, reason: str = "", now: datetime | None = None
) -> OperatorProfile:
    """The operator (or their console) asks for a state; a ringing offer is re-routed (R16).

    ``operator`` is the platform user (role operator). Leaving ``on_call`` closes the accepted
    reservation (the operator is done with that call).
    """
    return profile_set_state(profile_id=profile_for(operator).pk, state=state, reason=reason, now=now)


def profile_set_state(
    *, profile_id: int, state: str, reason: str = "", now: datetime | None = None
) -> OperatorProfile:
    """``operator_set_state`` by profile id: never reads the user table, so safe in any schema."""
    now = now or timezone.now()
    state = S(state)
    with transaction.atomic():
        profile = _lock_unless_offered(profile_id)
        live = call = None
        if profile is None:  # a ringing offer: lock its call before the operator, as the router does
            live = Reservation.objects.filter(operator_id=profile_id, state=Reservation.State.OFFERED).first()
            call = WaitingCall.objects.select_for_update().get(pk=live.call_id) if live else None
            profile = OperatorProfile.objects.select_for_update().get(pk=profile_id)
        if state not in ALLOWED[S(profile.state)]:
            raise InvalidTransition(f"{profile.state} → {state}")
        if profile.state == S.RESERVED:
            if state == S.AVAILABLE:
                return profile
            if live is not None:
                live = Reservation.objects.select_for_update().filter(pk=live.pk, state="offered").first()
            if live is not None and call is not None:
                cancel_offer(reservation=live, call=call, operator=profile, reason=str(state), now=now,
                             release_operator=False)  # fmt: skip
        if profile.state == S.ON_CALL and state != S.ON_CALL:
            Reservation.objects.filter(operator=profile, state=Reservation.State.ACCEPTED).update(
                state=Reservation.State.COMPLETED, closed_at=now, reason=str(state)
            )
        was = profile.state
        if state == S.AVAILABLE and was != S.AVAILABLE:
            profile.idle_since = now
            profile.missed_offers = 0 if was == S.BREAK else profile.missed_offers
        if was == state and profile.break_reason == (reason if state == S.BREAK else ""):
            return profile
        skills = _set(profile, state, reason if state == S.BREAK else "", now, skills=state == S.AVAILABLE)
        if state == S.AVAILABLE:
            _match_freed(profile, now, skills)
    return profile


# The operator's row, locked, unless an offer rings for them.
LOCK_UNLESS_OFFERED_SQL = f"""
SELECT {columns(OperatorProfile)} FROM public.telephony_operatorprofile
WHERE id = %(id)s AND NOT EXISTS (
    SELECT 1 FROM public.telephony_reservation WHERE operator_id = %(id)s AND state = 'offered')
FOR UPDATE
"""  # noqa: S608 (column names come from the model, the id is a parameter)


def _lock_unless_offered(profile_id: int) -> OperatorProfile | None:
    """The operator's row, locked, in one statement; None when an offer rings for them (then the
    offer's call must be locked first: the router's lock order is call, then operator)."""
    with connection.cursor() as cursor:
        cursor.execute(LOCK_UNLESS_OFFERED_SQL, {"id": profile_id})
        row = cursor.fetchone()
    return load(OperatorProfile, row) if row is not None else None  # None also: no such operator


def _match_freed(profile: OperatorProfile, now: datetime, skills: list) -> None:
    """An operator just became available: offer them a waiting call in this same transaction (one
    commit for the state change and the offer). When none is found here, inbound and then outbound
    work are looked for again once it commits (see ``routing.match_within``).

    Their row is locked by this transaction and ``skills`` came with the state change: the router
    takes them as its locked operator instead of reading them again."""
    from telephony.routing import match_within  # the router imports this module

    idle = profile.idle_since.timestamp() if profile.idle_since else None
    locked = [(profile.pk, profile.user_id, idle, profile.languages, skills)]
    if match_within(
        operator_ids=[profile.pk], now=now, again=_inbound_then_outbound(profile.pk), locked=locked
    ):
        profile.state = S.RESERVED
