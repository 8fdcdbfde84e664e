"""The operator asks for a state (available, break, wrap-up, offline), and an operator who becomes
free is served: inbound calls first, then the apps above (outbound) are told they are free."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.queries import one
from telephony.events import announce_on_commit, operator_available, operator_freed
from telephony.operators import InvalidTransition, check_request, profile_for, transition
from telephony.routing import sql
from telephony.routing.decisions import close_offer
from telephony.routing.passes import match, match_within
from telephony.routing_models import OperatorProfile, OperatorState, Reservation, WaitingCall

S = OperatorState
LOCK_ATTEMPTS = 5


def operator_set_state(
    *, operator, state: str, reason: str = "", now: datetime | None = None
) -> OperatorProfile:
    """The operator (or their console) asks for a state; a ringing offer is re-routed (R16).

    ``operator`` is the platform user (role operator). Leaving ``on_call`` closes the accepted
    reservation (the operator is done with that call).
    """
    return profile_set_state(profile_id=profile_for(operator).pk, state=state, reason=reason, now=now)


class _OfferAppeared(Exception):
    """An offer was made to the operator between reading their offers and locking them."""


def profile_set_state(
    *, profile_id: int, state: str, reason: str = "", now: datetime | None = None
) -> OperatorProfile:
    """``operator_set_state`` by profile id: never reads the user table, so safe in any schema."""
    now = now or timezone.now()
    state = S(state)
    for _ in range(LOCK_ATTEMPTS):
        try:
            return _set_state(profile_id, state, reason, now)
        except _OfferAppeared:
            continue
    return _set_state(profile_id, state, reason, now)


def _set_state(profile_id: int, state: str, reason: str, now: datetime) -> OperatorProfile:
    with transaction.atomic():
        # No offer rings for them (the usual case): only the operator is locked, with their
        # skills for the match that may follow.
        free = sql.lock_unreserved_operator(profile_id)
        call = None
        if free is not None:
            profile = free.profile
        else:
            call, profile = _lock_ringing(profile_id)
        check_request(profile, state)
        if profile.state == S.RESERVED:
            if state == S.AVAILABLE:
                return profile
            _close_ringing(profile, call, state, now)
        # Their call is still going on: they are not free until it ends (it stays theirs, and
        # routing.leave closes it when it does; a logout meanwhile only takes them offline).
        busy = sql.on_a_call(profile.pk)
        if busy and state == S.AVAILABLE and profile.state != S.AVAILABLE:
            raise InvalidTransition("Your last call is not over yet.")
        if profile.state == S.ON_CALL and state != S.ON_CALL and not (busy and state == S.OFFLINE):
            Reservation.objects.filter(operator=profile, state=Reservation.State.ACCEPTED).update(
                state=Reservation.State.COMPLETED, closed_at=now, reason=str(state)
            )
        idle = missed = None
        if state == S.AVAILABLE and profile.state != S.AVAILABLE:
            idle = now
            missed = 0 if profile.state == S.BREAK else None
        freed = transition(
            [profile], state, now=now, reason=reason, idle_since=idle, missed_offers=missed, announce=False
        )
        if freed and state == S.AVAILABLE:
            # Offered a call in the same commit. Else they are announced, and looked at again once
            # it commits (``serve_freed_operator``): a call queued meanwhile is invisible from here.
            # Offered one, they are no longer free: nothing to announce, nothing to read again.
            if free is None:  # locked after a ringing offer's call: read with their skills
                free = sql.lock_unreserved_operator(profile_id)
            offered, _ = match_within(operator_ids=[profile.pk], locked=[free], now=now)
            if not offered:
                announce_on_commit(operator_available, operator_id=profile.pk, now=now)
    return profile


def _lock_ringing(profile_id: int) -> tuple[WaitingCall | None, OperatorProfile]:
    """The call of the operator's ringing offer, then the operator, locked in that order."""
    live = one(Reservation.objects.filter(operator_id=profile_id, state=Reservation.State.OFFERED))
    call = WaitingCall.objects.select_for_update().get(pk=live.call_id) if live else None
    return call, OperatorProfile.objects.select_for_update().get(pk=profile_id)


def _close_ringing(profile: OperatorProfile, call: WaitingCall | None, state: str, now: datetime) -> None:
    """Close the ringing offer (its call locked by the caller); the caller sets the next state."""
    live = one(Reservation.objects.select_for_update().filter(operator=profile, state="offered"))
    if live is not None and (call is None or live.call_id != call.pk):
        raise _OfferAppeared
    if live is not None and call is not None:
        close_offer(
            reservation=live, call=call, operator=profile, reason=str(state), now=now, release_operator=False
        )


def serve_freed_operator(*, operator_id: int, now: datetime | None = None, **kwargs: Any) -> None:
    """An operator became available (``events.operator_available``, after commit): inbound calls
    first; when none is offered to them, the apps above are told (``events.operator_freed``: the
    dialer looks for outbound work). The one place that decides this order. An operator no longer
    available (offered a call in the very commit that freed them) costs one read, and so does the
    usual case on a staffed floor, no call waiting for them: no locking pass (a call queued after
    this read sees them free in its own look after commit)."""
    free, calls_waiting = sql.free_and_calls_waiting(operator_id)
    if not free:
        return
    if not calls_waiting or not match(operator_ids=[operator_id], now=now):
        operator_freed.send_robust(sender=None, operator_id=operator_id)
