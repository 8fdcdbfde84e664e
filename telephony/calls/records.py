"""Call records: created once per CallSid, moved forward only, ended with exactly one outcome."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from telephony.calls.models import E164, Call, Callback, CallEvent, Contact

# Twilio's statuses by how far a call has come; a status callback never moves a call backwards.
STATUS_RANK = {
    Call.Status.QUEUED: 0,
    Call.Status.RINGING: 1,
    Call.Status.IN_PROGRESS: 2,
    Call.Status.COMPLETED: 3,
    Call.Status.BUSY: 3,
    Call.Status.NO_ANSWER: 3,
    Call.Status.CANCELED: 3,
    Call.Status.FAILED: 3,
}
TERMINAL = frozenset(status for status, rank in STATUS_RANK.items() if rank == 3)


@dataclass(frozen=True)
class TwilioCallParams:
    """The fields of a voice webhook we use; Twilio sends more and may add some at any time."""

    call_sid: str
    from_number: str
    to_number: str
    status: str
    direction: str
    digits: str = ""
    speech: str = ""
    duration: int | None = None

    @classmethod
    def from_post(cls, post: Any) -> TwilioCallParams:
        duration = post.get("CallDuration") or post.get("DialCallDuration")
        return cls(
            call_sid=post.get("CallSid", "")[:64],
            from_number=post.get("From", "")[:32],
            to_number=post.get("To", "")[:32],
            status=post.get("CallStatus", ""),
            direction="outbound" if post.get("Direction", "").startswith("outbound") else "inbound",
            digits=post.get("Digits", "")[:32],
            speech=post.get("SpeechResult", "")[:500],
            duration=int(duration) if str(duration or "").isdigit() else None,
        )


def add_event(
    call: Call, kind: str, *, dedupe: str | None = None, at: dt.datetime | None = None, **data: Any
) -> bool:
    """Record a call event; with ``dedupe`` a replay of the same webhook records nothing. True if new."""
    key = f"{call.call_sid}:{dedupe}"[:200] if dedupe else None
    try:
        with transaction.atomic():
            CallEvent.objects.create(call=call, at=at or timezone.now(), kind=kind, data=data, dedupe_key=key)
    except IntegrityError:
        return False
    return True


def contact_for(phone: str) -> Contact | None:
    """The caller's contact card, created on the first call from a valid number."""
    if not re.match(E164, phone or ""):
        return None  # anonymous or a SIP address: no card
    contact, _ = Contact.objects.get_or_create(phone=phone)
    return contact


def start_inbound(*, params: TwilioCallParams, now: dt.datetime | None = None) -> tuple[Call, bool]:
    """The call record for an incoming-call webhook: ``(call, created)``; a replay returns the same call."""
    now = now or timezone.now()
    existing = Call.objects.filter(call_sid=params.call_sid).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            call = Call.objects.create(
                call_sid=params.call_sid,
                direction=Call.Direction.INBOUND,
                from_number=params.from_number,
                to_number=params.to_number,
                contact=contact_for(params.from_number),
                status=params.status if params.status in STATUS_RANK else Call.Status.RINGING,
                started_at=now,
            )
            add_event(
                call, "incoming", dedupe="incoming", at=now, From=params.from_number, To=params.to_number
            )
    except IntegrityError:  # the same webhook, twice at once: the other request created it
        return Call.objects.get(call_sid=params.call_sid), False
    return call, True


def set_outcome(call: Call, outcome: str, *, at: dt.datetime | None = None, **data: Any) -> bool:
    """Give the call its one outcome; a second attempt changes nothing and returns False."""
    at = at or timezone.now()
    updated = Call.objects.filter(pk=call.pk, outcome="").update(outcome=outcome, outcome_at=at)
    if updated:
        call.outcome, call.outcome_at = outcome, at
        add_event(call, "outcome", dedupe=f"outcome:{outcome}", at=at, outcome=outcome, **data)
    return bool(updated)


def record_status(*, params: TwilioCallParams, now: dt.datetime | None = None) -> Call | None:
    """Apply a status callback; out-of-order or replayed callbacks never move a call backwards."""
    now = now or timezone.now()
    with transaction.atomic():
        call = Call.objects.select_for_update().filter(call_sid=params.call_sid).first()
        if call is None or params.status not in STATUS_RANK:
            return call
        add_event(
            call, f"status:{params.status}", dedupe=f"status:{params.status}", at=now, status=params.status
        )
        if call.status in TERMINAL or STATUS_RANK[params.status] <= STATUS_RANK.get(call.status, 0):
            return call  # a replay, or a late callback about an earlier stage
        call.status = params.status
        if params.status in TERMINAL:
            finish(call, now=now, duration=params.duration, failed=params.status != Call.Status.COMPLETED)
        call.save()
    return call


def finish(call: Call, *, now: dt.datetime, duration: int | None, failed: bool) -> None:
    """The caller's leg ended: close the timings and give the call its outcome if it has none yet."""
    from telephony.calls import flows

    call.ended_at = call.ended_at or now
    if duration is not None:
        call.duration_seconds = duration
    if call.answered_at and call.talk_seconds is None:
        call.talk_seconds = max(0, int((call.ended_at - call.answered_at).total_seconds()))
    if call.queued_at and call.wait_seconds is None:
        until = call.answered_at or call.ended_at
        call.wait_seconds = max(0, int((until - call.queued_at).total_seconds()))
    if call.outcome:
        _release(call, now)
        return
    if failed and not call.queued_at and not call.ivr_started_at:
        set_outcome(call, Call.Outcome.FAILED, at=now)
    elif call.answered_at:
        set_outcome(call, Call.Outcome.HANDLED, at=now)
        _release(call, now)
    else:
        set_outcome(call, Call.Outcome.ABANDONED, at=now, waited=call.wait_seconds)
        flows.caller_left_queue(call=call, now=now)


def _release(call: Call, now: dt.datetime) -> None:
    """The caller is gone: the router frees the call's place and sends its operator to wrap-up."""
    if call.queued_at is not None:
        from telephony import routing

        routing.leave(call_sid=call.call_sid, outcome=call.outcome or "ended", now=now)


def book_callback(*, call: Call, reason: str, now: dt.datetime, priority: int = 5) -> Callback:
    """A call back owed to this caller; one per call."""
    callback, _ = Callback.objects.get_or_create(
        call=call,
        defaults={
            "phone": call.from_number,
            "reason": reason,
            "queue_id": call.queue_id,
            "priority": priority,
            "due_at": now,
        },
    )
    add_event(call, "callback_booked", dedupe="callback", at=now, reason=reason)
    return callback
