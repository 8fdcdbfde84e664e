"""What becomes of an offer: accepted, rejected, expired, or closed because the call or the
operator went away. The call keeps its place in line whenever the offer does not end in a call.

Lock order, wherever a function here waits for a lock: the waiting call, then the operator, then
the reservation (a match never waits: it skips what is locked).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from django.db import transaction
from django.utils import timezone

from config.queries import one
from telephony.operators import AWAY_REASON, misses_before_away, record, transition
from telephony.pushes import push_on_commit
from telephony.routing.passes import match
from telephony.routing_models import OperatorProfile, OperatorState, Reservation, WaitingCall


def close_offer(
    *,
    reservation: Reservation,
    call: WaitingCall,
    operator: OperatorProfile,
    reason: str,
    now: datetime,
    state: str = Reservation.State.CANCELLED,
    release_operator: bool = True,
) -> None:
    """Close a ringing offer (rows locked by the caller): the call keeps its place in line and is
    offered again once this commits.

    The operator becomes available again (or away after ``misses_before_away`` expired offers in
    a row) unless ``release_operator`` is False (the caller sets their next state itself).
    """
    reservation.state, reservation.closed_at, reservation.reason = state, now, reason[:80]
    reservation.save(update_fields=["state", "closed_at", "reason"])
    push_on_commit(
        user_id=operator.user_id,
        message={"type": "offer_cancelled", "reservation": reservation.pk, "reason": reason},
    )
    if call.state == WaitingCall.State.RESERVED:
        call.state = WaitingCall.State.WAITING
        call.save(update_fields=["state"])
        queue_id = call.queue_id
        transaction.on_commit(lambda: match(queue_ids=[queue_id], now=now))
    about = {"call_sids": {operator.pk: call.call_sid}, "tenant_ids": {operator.pk: call.tenant_id}}
    if operator.state != OperatorState.RESERVED or not release_operator:
        record(
            operator_id=operator.pk,
            kind=str(state),
            reason=reason,
            call_sid=call.call_sid,
            tenant_id=call.tenant_id,
            now=now,
        )
        return
    then, why, idle, missed = OperatorState.AVAILABLE, reason, None, None
    if state == Reservation.State.EXPIRED:
        idle, missed = now, operator.missed_offers + 1
        if missed >= misses_before_away():
            then, why, idle = OperatorState.BREAK, AWAY_REASON, None
    elif state == Reservation.State.REJECTED:
        idle, missed = now, 0  # to the back of the line: other idle operators get the next call first
    transition([operator], then, now=now, kind=str(state), reason=why, idle_since=idle, missed_offers=missed,
               **about)  # fmt: skip


def _call_of_offer(reservation_id: int, now: datetime) -> int:
    """The call of an offer the operator answers; one past its deadline is expired first (issue 22:
    by whoever looks, tick or not), before the caller's transaction, so the expiry stays."""
    offer = one(Reservation.objects.values_list("call_id", "state", "expires_at").filter(pk=reservation_id))
    if offer is None:
        raise Reservation.DoesNotExist(reservation_id)
    call_id, state, expires_at = offer
    if state == Reservation.State.OFFERED and expires_at <= now:
        expire_reservations(now=now, reservation_id=reservation_id)
    return call_id


def _offer_for_operator(
    reservation_id: int, operator, call_id: int
) -> tuple[Reservation, WaitingCall, OperatorProfile]:
    """Lock the call, the operator and the reservation (in that order) of an offer to ``operator``.
    The operator comes with their user as the platform's table says now (the console runs in the
    public schema): the accept names them in the call's record with it."""
    call = WaitingCall.objects.select_related("tenant").select_for_update(of=("self",)).get(pk=call_id)
    profiles = OperatorProfile.objects.select_related("user").select_for_update(of=("self",))
    profile = profiles.get(user=operator)
    reservation = Reservation.objects.select_for_update().get(pk=reservation_id)
    if reservation.operator_id != profile.pk:
        raise PermissionError("This offer was made to another operator.")
    return reservation, call, profile


class Accepted(NamedTuple):
    """An accepted offer as ``accept`` wrote it: the call (with its company, and its operator with
    their user) and the offer."""

    call: WaitingCall
    reservation: Reservation


def accept(*, reservation_id: int, operator, now: datetime | None = None) -> Accepted:
    """The operator takes the offered call (the caller connects them: ``calls.answering``)."""
    now = now or timezone.now()
    call_id = _call_of_offer(reservation_id, now)
    with transaction.atomic():
        reservation, call, profile = _offer_for_operator(reservation_id, operator, call_id)
        if reservation.state != Reservation.State.OFFERED:
            raise ValueError(f"The offer is {reservation.state}.")
        reservation.state, reservation.closed_at = Reservation.State.ACCEPTED, now
        reservation.save(update_fields=["state", "closed_at"])
        call.state, call.answered_at, call.operator = WaitingCall.State.BRIDGED, now, profile
        call.save(update_fields=["state", "answered_at", "operator"])
        transition(
            [profile],
            OperatorState.ON_CALL,
            now=now,
            kind="accepted",
            missed_offers=0,
            call_sids={profile.pk: call.call_sid},
            tenant_ids={profile.pk: call.tenant_id},
        )
    return Accepted(call, reservation)


def reject(*, reservation_id: int, operator, now: datetime | None = None) -> None:
    """The operator declines the offer: the call keeps its place and goes to the next best operator."""
    now = now or timezone.now()
    call_id = _call_of_offer(reservation_id, now)
    with transaction.atomic():
        reservation, call, profile = _offer_for_operator(reservation_id, operator, call_id)
        if reservation.state != Reservation.State.OFFERED:
            return
        close_offer(
            reservation=reservation,
            call=call,
            operator=profile,
            reason="rejected",
            now=now,
            state=Reservation.State.REJECTED,
        )


def expire_reservations(
    *,
    now: datetime | None = None,
    operator_id: int | None = None,
    reservation_id: int | None = None,
    limit: int | None = None,
) -> int:
    """Offers past their ring timeout: closed, the call keeps its place, misses are counted.

    Expired by whoever looks next (issue 22), so offers expire while no worker runs: the tick, the
    reconciliation, each console for its operator (``operator_id``), an answer (``reservation_id``);
    at most ``limit`` of them (the rest at the next look)."""
    now = now or timezone.now()
    offers = Reservation.objects.filter(state=Reservation.State.OFFERED, expires_at__lte=now)
    if operator_id is not None:
        offers = offers.filter(operator_id=operator_id)
    if reservation_id is not None:
        offers = offers.filter(pk=reservation_id)
    due = list(offers.values_list("id", "call_id")[:limit])
    expired = 0
    for reservation_id, call_id in due:
        with transaction.atomic():
            call = one(WaitingCall.objects.select_for_update(skip_locked=True).filter(pk=call_id))
            if call is None:
                continue  # being accepted or left right now; the next tick looks again
            reservation = Reservation.objects.select_for_update().get(pk=reservation_id)
            if reservation.state != Reservation.State.OFFERED:
                continue
            operator = OperatorProfile.objects.select_for_update().get(pk=reservation.operator_id)
            close_offer(
                reservation=reservation,
                call=call,
                operator=operator,
                reason="no answer",
                now=now,
                state=Reservation.State.EXPIRED,
            )
            expired += 1
    return expired


def bridge_failed(
    *, reservation_id: int, reason: str, missed: bool = True, now: datetime | None = None
) -> bool:
    """The operator accepted but their leg never joined the call's conference (no answer, busy,
    failed, Twilio refused it): the call goes back in line with its place and priority, and the
    operator is counted a miss (away after ``misses_before_away``, else at the back of the line,
    so another free operator is offered the call first). ``missed=False`` when the platform, not
    the operator's phone, failed (Twilio unreachable, the connecting task not sent): back at the
    end of the line, no miss counted. False when this attempt is already over (a replayed or late
    callback)."""
    now = now or timezone.now()
    with transaction.atomic():
        call_id = one(Reservation.objects.filter(pk=reservation_id).values_list("call_id", flat=True))
        call = one(WaitingCall.objects.select_for_update().filter(pk=call_id))
        if call is None or call.state != WaitingCall.State.BRIDGED:
            return False
        reservation = Reservation.objects.select_for_update().get(pk=reservation_id)
        if reservation.state != Reservation.State.ACCEPTED or call.operator_id != reservation.operator_id:
            return False
        operator = OperatorProfile.objects.select_for_update().get(pk=reservation.operator_id)
        reservation.state, reservation.closed_at = Reservation.State.EXPIRED, now
        reservation.reason = f"leg {reason}"[:80]
        reservation.save(update_fields=["state", "closed_at", "reason"])
        call.state, call.answered_at, call.operator = WaitingCall.State.WAITING, None, None
        call.save(update_fields=["state", "answered_at", "operator"])
        queue_id = call.queue_id
        # Registered before the operator's own "available" announcement: the whole queue is
        # matched first, while this operator is the last in line.
        transaction.on_commit(lambda: match(queue_ids=[queue_id], now=now))
        push_on_commit(
            user_id=operator.user_id,
            message={"type": "call_lost", "reservation": reservation_id, "reason": reason},
        )
        about = {"call_sids": {operator.pk: call.call_sid}, "tenant_ids": {operator.pk: call.tenant_id}}
        if operator.state != OperatorState.ON_CALL:  # logged out meanwhile: stays where they are
            record(operator_id=operator.pk, kind="leg_failed", reason=reason, now=now, **{
                "call_sid": call.call_sid, "tenant_id": call.tenant_id})  # fmt: skip
            return True
        misses = operator.missed_offers + 1 if missed else operator.missed_offers
        then, why, idle = OperatorState.AVAILABLE, reason, now
        if missed and misses >= misses_before_away():
            then, why, idle = OperatorState.BREAK, AWAY_REASON, None
        transition([operator], then, now=now, kind="leg_failed", reason=why, idle_since=idle,
                   missed_offers=misses, **about)  # fmt: skip
    return True
