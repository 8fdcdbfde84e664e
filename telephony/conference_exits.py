"""A caller waiting in their call's conference is not left there: the max-wait exit (issue 16).

After a failed bridge (``routing.bridge_failed``) the caller stays in the conference ``call-<sid>``
with music while the call is back in line; so does a caller who went straight into it, offered to
an operator as they called (``flows.to_queue``), when that offer is missed, declined or withdrawn.
Twilio's queue does not time them out (its wait URL is not called in a conference), so
``routing_tick`` looks here: a call in line whose caller is in
the conference and that has waited the queue's ``max_wait`` since it was put in line, or whose
queue has nobody staffed any more (``routing.staffed_queues``: the call flow's own definition),
is moved out by REST with the TwiML a caller leaving Twilio's queue gets (the callback or
voicemail offer); the caller's leg leaving ends the conference (``endConferenceOnExit``).
An offer ringing meanwhile is closed, as when a queued caller leaves.

Twilio is never asked while a row is locked: the call leaves the line in a first transaction that
marks it being moved out (``WaitingCall.outcome`` "exiting: <reason>": out of line, so no operator
is offered it), the REST request goes after that commits, and a second transaction records what
Twilio answered. Twilio's answers as ``telephony.conferences`` treats them: 429/5xx/timeouts leave
the mark for the next tick to send the request again (the mark is all that was written), unless
the caller's leg has left the conference meanwhile (the move went through: recorded as moved, never
redirected twice); 404/"call gone" ends the call as abandoned; another 4xx is logged with Twilio's
code (by ``gateway``), recorded once, and the caller goes back in line (place kept), still served.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from config.queries import one
from telephony import conferences, gateway, routing, twiml
from telephony.calls.company import call_setup
from telephony.calls.flows import voice_of
from telephony.calls.models import Call
from telephony.calls.records import add_event, caller_in_conference, has_event
from telephony.routing_models import EXITING, EXITING_NOW, Reservation, WaitingCall

log = logging.getLogger(__name__)
IN_LINE = (WaitingCall.State.WAITING, WaitingCall.State.RESERVED)
MAX_WAIT, NOBODY_STAFFED = "max wait", "nobody staffed"


def overdue(*, now: dt.datetime) -> list[tuple[int, str]]:
    """Calls in line with their caller in the conference that must leave now, and those being
    moved out whose request Twilio did not answer: ``(waiting call id, reason)``.

    Only a call back in line after an offer can have its caller in the conference: its operator's
    leg failed, or the offer made as it was called (the caller waiting in the conference from the
    start, ``flows.to_queue``) was missed, declined or withdrawn. The caller is checked in the
    company's schema by ``move_out`` (one in Twilio's queue is left to its wait URL)."""
    rows = list(
        WaitingCall.objects.filter(
            state__in=IN_LINE,
            direction=WaitingCall.Direction.INBOUND,
            # A person called back waits for the next operator (their try ends when they hang up).
            kind=WaitingCall.Kind.CALL,
            reservations__state__in=[
                Reservation.State.EXPIRED,
                Reservation.State.REJECTED,
                Reservation.State.CANCELLED,
            ],
        )
        .distinct()
        .values_list("pk", "queue_id", "enqueued_at", "queue__max_wait")
    )
    # Marked being moved out by an earlier tick that Twilio did not answer: asked again.
    due = [
        (pk, outcome.removeprefix(EXITING))
        for pk, outcome in WaitingCall.objects.filter(EXITING_NOW).values_list("pk", "outcome")
    ]
    if not rows:
        return due
    staffed = routing.staffed_queues({row[1] for row in rows})
    for pk, queue_id, enqueued_at, max_wait in rows:
        if queue_id not in staffed:
            due.append((pk, NOBODY_STAFFED))
        elif now - enqueued_at >= dt.timedelta(seconds=max_wait):
            due.append((pk, MAX_WAIT))
    return due


def move_out_overdue(*, now: dt.datetime | None = None) -> int:
    """Move out every caller due to leave their conference (run by ``routing_tick``); how many."""
    now = now or timezone.now()
    moved = 0
    for waiting_call_id, reason in overdue(now=now):
        try:
            moved += move_out(waiting_call_id=waiting_call_id, reason=reason, now=now)
        except gateway.TwilioUnavailable as exc:
            log.warning(
                "caller of waiting call %s not moved out of the conference yet: %s", waiting_call_id, exc
            )
    return moved


def move_out(*, waiting_call_id: int, reason: str, now: dt.datetime | None = None) -> bool:
    """Offer this caller a callback or voicemail, out of their conference; True when moved.

    Raises ``gateway.TwilioUnavailable`` (the call stays marked: the next tick tries again)."""
    now = now or timezone.now()
    waiting = one(WaitingCall.objects.select_related("tenant").filter(pk=waiting_call_id))
    if waiting is None or not (waiting.state in IN_LINE or is_exiting(waiting)):
        return False
    with tenant_context(waiting.tenant):
        call = _take_out_of_line(waiting_call_id=waiting_call_id, call_sid=waiting.call_sid, reason=reason,
                                 now=now)  # fmt: skip
        if call is None:
            return False
        offer = twiml.leave_options(
            voice=voice_of(call_setup().settings), action=gateway.absolute(twiml.url("twilio-leave-choice"))
        )
        answer = gateway.update_call(call_sid=call.call_sid, twiml_text=str(offer))  # no transaction open
        return _settle(call=call, waiting_call_id=waiting_call_id, answer=answer, now=now)


def is_exiting(waiting: WaitingCall) -> bool:
    """Out of line to be moved out of the conference, Twilio not asked successfully yet."""
    return waiting.state == WaitingCall.State.LEFT and waiting.outcome.startswith(EXITING)


def _take_out_of_line(*, waiting_call_id: int, call_sid: str, reason: str, now: dt.datetime) -> Call | None:
    """The call, marked being moved out (out of line, its ringing offer closed), when Twilio is to be
    asked now; None when not (taken meanwhile, the caller gone, refused before)."""
    with transaction.atomic():
        call = one(Call.objects.select_for_update(skip_locked=True).filter(call_sid=call_sid))
        if call is None:
            return None
        locked = one(WaitingCall.objects.select_for_update(skip_locked=True).filter(pk=waiting_call_id))
        if locked is None:
            return None  # being accepted right now, or settled by another tick
        over = call.ended_at is not None or call.outcome or call.answered_at is not None
        if is_exiting(locked):  # Twilio did not answer last time
            if over:  # the caller hung up meanwhile: nothing to move
                locked.outcome = (call.outcome or Call.Outcome.ABANDONED)[:32]
                locked.save(update_fields=["outcome"])
                return None
            if conferences.caller_left_conference(call):  # moved already (Twilio's answer was lost)
                _moved(call=call, locked=locked, now=now)
                return None
            return call
        if locked.state not in IN_LINE or over:
            return None
        if not caller_in_conference(call) or has_event(call, "conference_exit_refused"):
            return None  # still in Twilio's queue (its wait URL times them out), or Twilio refused
        routing.leave(call_sid=call.call_sid, outcome=f"{EXITING}{reason}", now=now)
    return call


def _settle(*, call: Call, waiting_call_id: int, answer: gateway.Answer, now: dt.datetime) -> bool:
    """Record Twilio's answer to the move (once: the mark is cleared); True when the caller moved."""
    with transaction.atomic():
        one(Call.objects.select_for_update().filter(pk=call.pk))  # the lock order of the first step
        locked = one(WaitingCall.objects.select_for_update().filter(pk=waiting_call_id))
        if locked is None or not is_exiting(locked):
            return False  # settled by another tick meanwhile
        reason = locked.outcome.removeprefix(EXITING)
        if answer is gateway.Answer.GONE:
            locked.outcome = Call.Outcome.ABANDONED
            locked.save(update_fields=["outcome"])
            conferences.caller_gone(call=call, reason="gone before leaving the conference", now=now)
            return False
        if answer is gateway.Answer.REFUSED:
            add_event(
                call, "conference_exit_refused", dedupe="conference_exit_refused", at=now, reason=reason
            )
            # Back in line, place kept: still served by the next operator free.
            locked.state, locked.left_at, locked.outcome = WaitingCall.State.WAITING, None, ""
            locked.save(update_fields=["state", "left_at", "outcome"])
            queue_id = locked.queue_id
            transaction.on_commit(lambda: routing.match(queue_ids=[queue_id], now=now))
            return False
        _moved(call=call, locked=locked, now=now)
    log.info("call %s: caller moved out of the conference to the callback/voicemail offer (%s)",
             call.call_sid, reason)  # fmt: skip
    return True


def _moved(*, call: Call, locked: WaitingCall, now: dt.datetime) -> None:
    """The caller is out of the conference to the offer: recorded once, the mark cleared (in the
    caller's transaction, ``locked`` locked)."""
    reason = locked.outcome.removeprefix(EXITING)
    waited = round((locked.left_at - locked.enqueued_at).total_seconds())
    add_event(call, "conference_exit", dedupe="conference_exit", at=now, reason=reason, waited=waited)
    locked.outcome = "left"
    locked.save(update_fields=["outcome"])
