"""A call's place in line: put in a queue, and taken out when the caller leaves or the call ends."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from config.queries import one
from telephony.models import Queue
from telephony.operators import transition
from telephony.routing import queues, sql
from telephony.routing.decisions import close_offer
from telephony.routing.passes import match, match_within
from telephony.routing_models import (
    LIVE_RESERVATION,
    OperatorProfile,
    OperatorState,
    Reservation,
    WaitingCall,
)


def enqueue(
    *,
    tenant,
    queue: Queue,
    call_sid: str,
    priority: int = 0,
    language: str = "",
    now: datetime | None = None,
) -> WaitingCall:
    """Put a call in line (idempotent on ``call_sid``) and offer it in the same transaction when
    someone is free; else (or when that pass says so) look again once this commits. The call in
    line as written: ``RESERVED`` when it was offered in this transaction.

    It does not refuse a full queue: the caller checks the length first (``door``).
    """
    if queue.tenant_id != tenant.pk:
        raise ValueError("The queue belongs to another client company.")
    now = now or timezone.now()
    fields = {
        "tenant_id": tenant.pk, "queue_id": queue.pk, "call_sid": call_sid, "priority": priority,
        "language": language, "enqueued_at": now, "direction": WaitingCall.Direction.INBOUND.value,
    }  # fmt: skip
    served = queues.served([queue.pk], queues.rules_for([queue.pk]))
    with transaction.atomic(savepoint=False):  # the caller's transaction, or one of its own
        queued = sql.enqueue_once(fields=fields, served=served)
        if queued is None:  # a replay: the call is in line already
            return WaitingCall.objects.get(call_sid=call_sid)
        waiting_id, free = queued
        offers, again = match_within(queue_ids=[queue.pk], locked=free, now=now)
    if again:
        queue_id = queue.pk
        transaction.on_commit(lambda: match(queue_ids=[queue_id], now=now))
    # (the pass may have offered a call that waited longer instead of this one)
    offered = any(offer.call_id == waiting_id for offer in offers)
    state = WaitingCall.State.RESERVED if offered else WaitingCall.State.WAITING
    return WaitingCall(pk=waiting_id, state=state, **fields)


def _leaving(call_sid: str) -> tuple[WaitingCall, Reservation | None, OperatorProfile | None] | None:
    """The call still in line, its live reservation and that operator, locked in the router's lock
    order (call, operator, reservation's row); None when the call is unknown or already left."""
    call = one(WaitingCall.objects.select_for_update().filter(call_sid=call_sid))
    if call is None or call.state == WaitingCall.State.LEFT:
        return None
    live = one(Reservation.objects.select_for_update().filter(LIVE_RESERVATION, call=call))
    operator = OperatorProfile.objects.select_for_update().get(pk=live.operator_id) if live else None
    return call, live, operator


def leave(*, call_sid: str, outcome: str, now: datetime | None = None) -> None:
    """The call left the queue (hung up, voicemail, callback, or ended after the bridge). Part of
    the caller's transaction when there is one (the status callback's: no savepoint)."""
    now = now or timezone.now()
    with transaction.atomic(savepoint=False):
        leaving = _leaving(call_sid)
        if leaving is None:
            return
        call, live, operator = leaving
        if live is not None and live.state == Reservation.State.OFFERED:
            close_offer(reservation=live, call=call, operator=operator, reason=outcome, now=now)
        elif live is not None:
            live.state, live.closed_at, live.reason = Reservation.State.COMPLETED, now, outcome[:80]
            live.save(update_fields=["state", "closed_at", "reason"])
            if operator.state == OperatorState.ON_CALL:
                about = {"call_sids": {operator.pk: call_sid}, "tenant_ids": {operator.pk: call.tenant_id}}
                transition([operator], OperatorState.WRAP_UP, now=now, kind="call_ended", **about)
        call.state, call.left_at, call.outcome = WaitingCall.State.LEFT, now, outcome[:32]
        call.save(update_fields=["state", "left_at", "outcome"])


def leave_line(*, call_sid: str, outcome: str, now: datetime | None = None) -> bool:
    """The caller asks to leave the line (the wait key: for a callback or voicemail). Refused (False)
    when an operator took the call meanwhile: the caller is connected instead. Under the call's lock,
    exactly one of the two wins: an accept after this finds the offer cancelled (issue 23)."""
    now = now or timezone.now()
    with transaction.atomic():
        call = one(WaitingCall.objects.select_for_update().filter(call_sid=call_sid))
        if call is not None and call.state == WaitingCall.State.BRIDGED:
            return False
        leave(call_sid=call_sid, outcome=outcome, now=now)
    return True


def leave_unconnected(
    *, call_sid: str, reason: str, now: datetime | None = None
) -> tuple[OperatorProfile, Reservation] | None:
    """A call nobody was connected to ends (an outbound call unanswered, given back, refused): its
    row leaves with no answer time and its operator is free at once. Returns that operator and
    their closed reservation, when one was freed."""
    now = now or timezone.now()
    with transaction.atomic():
        leaving = _leaving(call_sid)
        if leaving is None:
            return None
        call, live, operator = leaving
        freed = None
        if live is not None:
            live.state, live.closed_at, live.reason = Reservation.State.CANCELLED, now, reason[:80]
            live.save(update_fields=["state", "closed_at", "reason"])
            if operator.state == OperatorState.ON_CALL:
                transition([operator], OperatorState.AVAILABLE, now=now, kind="outbound_ended", reason=reason,
                           idle_since=now, call_sids={operator.pk: call_sid},
                           tenant_ids={operator.pk: call.tenant_id})  # fmt: skip
                freed = operator, live
        # Nobody talked: no answer time, so it counts as handled nowhere.
        call.state, call.left_at, call.outcome, call.answered_at = (
            WaitingCall.State.LEFT,
            now,
            reason[:32],
            None,
        )
        call.save(update_fields=["state", "left_at", "outcome", "answered_at"])
    return freed
