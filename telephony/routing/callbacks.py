"""A callback that keeps the caller's place (R13): the router's side.

The caller hangs up, but their row stays in line with its ``enqueued_at`` and ``priority``, as a
``WaitingCall.Kind.CALLBACK``: calls that arrived after it are served after it. Its ``call_sid``
names the call record of the next try to reach the caller (``telephony.callback_dial``), so the
caller's own leg ending frees nothing. When a try fails (no answer, busy…) the row is deferred
(``State.DEFERRED`` until ``due_at``) and comes back at the same place for the next try. A callback
whose queue nobody staffs does not wait for ever: past the queue's maximum wait since its place
was taken (``unstaffed_overdue``) it leaves the line for the company's callback list
(``telephony.callback_dial.hand_over``).

Lock order, as everywhere in the router: the waiting call, then the operator, then the reservation.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from config.queries import one
from telephony.operators import transition
from telephony.routing.decisions import close_offer
from telephony.routing.passes import match
from telephony.routing.queues import staffed_queues
from telephony.routing_models import (
    LIVE_RESERVATION,
    OperatorProfile,
    OperatorState,
    Reservation,
    WaitingCall,
)

IN_LINE = (WaitingCall.State.WAITING, WaitingCall.State.RESERVED)


def keep_place(*, call_sid: str, callback_sid: str, now: datetime | None = None) -> WaitingCall | None:
    """The caller asked to be called back keeping their place: their row stays in line as a
    callback, named by ``callback_sid`` (the first try's call record) from now on. An offer
    ringing for the call is closed (the operator is free at once, not a miss): the callback is
    offered again, as a callback, from the same place. None when the call is no longer in line
    (an operator is being connected, or it left): nothing changes."""
    now = now or timezone.now()
    with transaction.atomic():
        call = one(WaitingCall.objects.select_for_update().filter(call_sid=call_sid))
        if call is None or call.state not in IN_LINE or call.kind != WaitingCall.Kind.CALL:
            return None
        _free_operator(call, "became a callback", now)  # in line: at most an offer ringing
        call.kind, call.call_sid = WaitingCall.Kind.CALLBACK, callback_sid
        call.save(update_fields=["kind", "call_sid"])
        queue_id = call.queue_id
        transaction.on_commit(lambda: match(queue_ids=[queue_id], now=now))
    return call


def defer(
    *, call_sid: str, next_sid: str, due_at: datetime, reason: str, now: datetime | None = None
) -> tuple[OperatorProfile, Reservation] | None:
    """A try to reach the caller failed: its operator is free at once (not their miss), and the
    callback waits until ``due_at`` at its place, named by ``next_sid`` (the next try's record).
    Returns the operator freed and their closed reservation, if one was. Does nothing to a row
    already deferred or gone."""
    now = now or timezone.now()
    with transaction.atomic():
        call = one(WaitingCall.objects.select_for_update().filter(call_sid=call_sid))
        if call is None or call.kind != WaitingCall.Kind.CALLBACK or call.state in _OVER:
            return None
        freed = _free_operator(call, reason, now)
        call.state, call.due_at, call.call_sid = WaitingCall.State.DEFERRED, due_at, next_sid
        call.answered_at, call.operator = None, None
        call.save(update_fields=["state", "due_at", "call_sid", "answered_at", "operator"])
    return freed


_OVER = (WaitingCall.State.LEFT, WaitingCall.State.DEFERRED)


def _free_operator(
    call: WaitingCall, reason: str, now: datetime
) -> tuple[OperatorProfile, Reservation] | None:
    """The call's live reservation ends (rows locked in the router's order): an offer ringing is
    closed (the operator free again, not a miss); an accepted one is cancelled and its operator,
    on the call, freed at once: returned with the reservation."""
    live = one(Reservation.objects.select_for_update().filter(LIVE_RESERVATION, call=call))
    if live is None:
        return None
    operator = OperatorProfile.objects.select_for_update().get(pk=live.operator_id)
    if live.state == Reservation.State.OFFERED:
        close_offer(reservation=live, call=call, operator=operator, reason=reason, now=now)
        return None
    live.state, live.closed_at, live.reason = Reservation.State.CANCELLED, now, reason[:80]
    live.save(update_fields=["state", "closed_at", "reason"])
    if operator.state != OperatorState.ON_CALL:
        return None
    transition([operator], OperatorState.AVAILABLE, now=now, kind="callback_unanswered", reason=reason,
               idle_since=now, call_sids={operator.pk: call.call_sid},
               tenant_ids={operator.pk: call.tenant_id})  # fmt: skip
    return operator, live


def wake_due(*, now: datetime | None = None) -> int:
    """Deferred callbacks whose next try is due go back in line at their place (run by the tick,
    before its match pass); how many."""
    now = now or timezone.now()
    return WaitingCall.objects.filter(state=WaitingCall.State.DEFERRED, due_at__lte=now).update(
        state=WaitingCall.State.WAITING, due_at=None
    )


def unstaffed_overdue(*, now: datetime | None = None) -> list[int]:
    """The callbacks keeping a place in a queue nobody staffs (``staffed_queues``) that have waited
    the queue's maximum wait since their place was taken (``enqueued_at``): their ids."""
    now = now or timezone.now()
    rows = list(
        # Waiting, not offered (an operator being offered it staffs the queue); the few in line.
        WaitingCall.objects.filter(
            kind=WaitingCall.Kind.CALLBACK, state=WaitingCall.State.WAITING
        ).values_list("pk", "queue_id", "enqueued_at", "queue__max_wait")
    )
    if not rows:
        return []
    staffed = staffed_queues({queue_id for _, queue_id, _, _ in rows})
    return [
        pk
        for pk, queue_id, enqueued_at, max_wait in rows
        if queue_id not in staffed and now - enqueued_at >= timedelta(seconds=max_wait)
    ]
