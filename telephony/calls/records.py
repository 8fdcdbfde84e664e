"""Call records: created once per CallSid, moved forward only, ended with exactly one outcome."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from telephony import routing, twiml
from telephony.calls import sql
from telephony.calls.company import call_setup
from telephony.calls.hours import is_open
from telephony.calls.models import Call, Callback, CallEvent, Contact
from telephony.events import announce_on_commit, call_completed, callback_booked
from telephony.models import PhoneNumber
from tenants.models import Client
from tenants.phones import is_e164

EVENT_DATA = CallEvent._meta.get_field("data")

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
            from_number=post.get("From", ""),  # any length: SIP URIs, "client:…" (stored whole)
            to_number=post.get("To", ""),
            status=post.get("CallStatus", ""),
            direction="outbound" if post.get("Direction", "").startswith("outbound") else "inbound",
            digits=post.get("Digits", "")[:32],
            speech=post.get("SpeechResult", "")[:500],
            duration=int(duration) if str(duration or "").isdigit() else None,
        )


# A call's event to record once with the statement that reads the call: kind, dedupe key, data
# (as ``add_event``'s arguments).
EventNote = tuple[str, str, dict[str, Any]]


def call_row(statement: str, params: list[object] | dict[str, object]) -> Call | None:
    """The one call ``statement`` (of ``sql``: ``SELECT *`` of a call by a unique key) selects."""
    return next(iter(Call.objects.raw(statement, params)), None)


def note_params(note: EventNote, *, at: dt.datetime) -> dict[str, object]:
    """The parameters of ``note`` in a statement that records it (``sql.EVENT_KEY``)."""
    kind, dedupe, data = note
    return {"at": at, "kind": kind, "dedupe": dedupe, "data": EVENT_DATA.get_db_prep_value(data, connection)}


def call_by_id(pk: int) -> Call | None:
    """The call with this id (every field; ``sql.CALL_BY_ID``), else None."""
    return call_row(sql.CALL_BY_ID, [pk])


def call_by_sid(call_sid: str) -> Call | None:
    """The call with this CallSid (every field; ``sql.CALL_BY_SID``), else None."""
    return call_row(sql.CALL_BY_SID, [call_sid])


def _locked_call(
    call_sid: str, *, noting: EventNote | None = None, at: dt.datetime | None = None
) -> Call | None:
    """The call with this CallSid, locked until the transaction ends, with ``held_since``: when the
    caller was put on hold if they are on hold now (``hold_started``), else None. ``noting``: the
    call's event recorded once at ``at`` in the same statement (``add_event``)."""
    if noting is None:
        return call_row(sql.CALL_BY_SID_LOCKED, {"call_sid": call_sid})
    return call_row(sql.CALL_BY_SID_LOCKED_NOTING, {"call_sid": call_sid, **note_params(noting, at=at)})


def dedupe_key(call: Call, dedupe: str) -> str:
    """The key that makes an event of this call unique (``CallEvent.dedupe_key``)."""
    return event_key(call.call_sid, dedupe)


def event_key(call_sid: str, dedupe: str) -> str:
    """``dedupe_key`` by the call's sid."""
    return f"{call_sid}:{dedupe}"[:200]


def has_event(call: Call, dedupe: str) -> bool:
    """Whether the call has the event recorded once under ``dedupe``."""
    return CallEvent.objects.filter(dedupe_key=dedupe_key(call, dedupe)).exists()


# The caller is in the call's conference ``call-<sid>``: sent there by the first answer, moved
# there by the bridge or the answer to their leaving the line, or dialled back into it. One event,
# recorded once; Twilio's queue is behind them.
IN_CONFERENCE = "conference"


def caller_in_conference(call: Call) -> bool:
    """Whether the caller was sent or moved into the call's conference (out of Twilio's queue)."""
    return has_event(call, IN_CONFERENCE)


def note_caller_in_conference(call: Call, *, at: dt.datetime | None = None, **data: Any) -> bool:
    """Record that the caller is in the call's conference (once); True if new."""
    name = twiml.conference_name(call.call_sid)
    return add_event(call, IN_CONFERENCE, dedupe=IN_CONFERENCE, at=at, name=name, **data)


def add_event(
    call: Call,
    kind: str,
    *,
    dedupe: str | None = None,
    at: dt.datetime | None = None,
    **data: Any,
) -> bool:
    """Record a call event; with ``dedupe`` a replay of the same webhook records nothing. True if new."""
    at = at or timezone.now()
    if dedupe is None:
        CallEvent.objects.create(call=call, at=at, kind=kind, data=data)
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            sql.INSERT_EVENT_ONCE,
            {
                "call": call.pk, "at": at, "kind": kind, "key": dedupe_key(call, dedupe),
                "data": EVENT_DATA.get_db_prep_value(data, connection),
            },
        )  # fmt: skip
        return cursor.fetchone() is not None


def mark_queued(call: Call, *, queue_id: int, queue_name: str, at: dt.datetime, **data: Any) -> bool:
    """Mark the call queued in this queue with its ``queued`` event (``data``), in one statement;
    once: False, and nothing written, when it was queued already (then ``call`` is left as it is)."""
    with connection.cursor() as cursor:
        cursor.execute(
            sql.MARK_QUEUED,
            {
                "call": call.pk, "at": at, "queue": queue_id, "queue_name": queue_name,
                "key": dedupe_key(call, "queued"), "data": EVENT_DATA.get_db_prep_value(data, connection),
            },
        )  # fmt: skip
        marked = cursor.fetchone()[0] == 1
    if marked:
        call.queued_at, call.queue_id, call.queue_name = at, queue_id, queue_name
    return marked


def mark_accepted(
    call_sid: str,
    *,
    reservation_id: int,
    offered_at: dt.datetime,
    operator_id: int,
    operator_name: str,
    **data: Any,
) -> bool:
    """Write who took the call (the offer ``reservation_id``) into its record, unless it is answered
    already, with its ``accepted`` event (``data``, once per offer), in one statement. False when
    this company has no call of that sid (nothing written)."""
    with connection.cursor() as cursor:
        cursor.execute(
            sql.MARK_ACCEPTED,
            {
                "call_sid": call_sid, "offered_at": offered_at, "operator_id": operator_id,
                "operator_name": operator_name, "at": timezone.now(),
                "key": event_key(call_sid, f"accepted:{reservation_id}"),
                "data": EVENT_DATA.get_db_prep_value(data, connection),
            },
        )  # fmt: skip
        return cursor.fetchone()[0] > 0


def mark_answered(
    call: Call,
    *,
    waiting_id: int,
    at: dt.datetime,
    offered_at: dt.datetime,
    operator_id: int,
    operator_name: str,
    **data: Any,
) -> bool:
    """The call answered at ``at`` by this operator, unless it is answered already: its record (the
    wait from its place in line to ``at``), the answer's time on its call in line ``waiting_id``
    and its ``bridged`` event (``data``, once per operator), in one statement. True when newly
    answered."""
    waited = max(0, round((at - (call.queued_at or at)).total_seconds()))
    with connection.cursor() as cursor:
        cursor.execute(
            sql.MARK_ANSWERED,
            {
                "call": call.pk, "waiting": waiting_id, "at": at, "offered_at": offered_at,
                "operator_id": operator_id, "operator_name": operator_name, "wait_seconds": waited,
                "key": dedupe_key(call, f"bridged:{operator_id}"),
                "data": EVENT_DATA.get_db_prep_value(data, connection),
            },
        )  # fmt: skip
        return cursor.fetchone()[0] == 1


def contact_for(phone: str) -> Contact | None:
    """The caller's contact card, created on the first call from a valid number."""
    if not is_e164(phone):
        return None  # anonymous or a SIP address: no card
    contact, _ = Contact.objects.get_or_create(phone=phone)
    return contact


class InboundCall(NamedTuple):
    """An incoming call as ``start_inbound`` recorded it (or found it recorded, on a replay)."""

    call: Call
    created: bool
    number_state: str  # the dialled number's, as the record was written
    in_service: bool  # the number is assigned and its company active: calls reach its queue


def start_inbound(
    *,
    params: TwilioCallParams,
    tenant_id: int,
    now: dt.datetime | None = None,
    evidence: dict[str, Any] | None = None,
) -> InboundCall | None:
    """The call record of an incoming-call webhook, with the caller's card (made on the first call
    from a valid number), its ``incoming`` event and the webhook's ``evidence`` (its row,
    ``telephony.evidence.row``, kept once per key), in one statement.

    ``tenant_id``: the company the dialled number belongs to, as the caller last knew it (it may
    keep that in memory): nothing is written, and this returns None, unless the number still does;
    whether it is in service is read in the same statement. A replay, or the same webhook twice at
    once, finds the unique CallSid taken and returns the call already recorded (with its card and
    script run).
    """
    now = now or timezone.now()
    call = Call(
        call_sid=params.call_sid,
        direction=Call.Direction.INBOUND,
        from_number=params.from_number,
        to_number=params.to_number,
        status=params.status if params.status in STATUS_RANK else Call.Status.RINGING,
        started_at=now,
    )
    card = Contact(phone=params.from_number) if is_e164(params.from_number) else None
    data = {"From": params.from_number, "To": params.to_number}
    event = {
        "at": now, "kind": "incoming", "key": dedupe_key(call, "incoming"),
        "data": EVENT_DATA.get_db_prep_value(data, connection),
    }  # fmt: skip
    found = sql.start_inbound(call=call, contact=card, tenant_id=tenant_id, event=event, evidence=evidence)
    if found is None:
        return None
    in_service = (
        found.number_state == PhoneNumber.State.ASSIGNED and found.company_status == Client.Status.ACTIVE
    )
    if found.call is None:  # a replay
        recorded = (
            Call.objects.select_related("contact", "script_session__version")
            .filter(call_sid=params.call_sid)
            .first()
        )
        if recorded is None:
            raise Call.DoesNotExist(params.call_sid)
        return InboundCall(recorded, False, found.number_state, in_service)
    call = found.call
    call.contact = found.contact
    if card is not None and found.contact is None:
        # The caller's first call twice at once: the other request made the card as this one
        # looked (rare): read it and link it.
        call.contact = contact_for(params.from_number)
        Call.objects.filter(pk=call.pk).update(contact=call.contact)
    return InboundCall(call, True, found.number_state, in_service)


def set_outcome(call: Call, outcome: str, *, at: dt.datetime | None = None, **data: Any) -> bool:
    """Give the call its one outcome; a second attempt changes nothing and returns False."""
    at = at or timezone.now()
    with connection.cursor() as cursor:  # the outcome with its event, one statement (``sql.SET_OUTCOME``)
        cursor.execute(
            sql.SET_OUTCOME,
            {
                "call": call.pk, "outcome": outcome, "at": at, "key": dedupe_key(call, f"outcome:{outcome}"),
                "data": EVENT_DATA.get_db_prep_value({"outcome": outcome, **data}, connection),
            },
        )  # fmt: skip
        updated = cursor.fetchone()[0] == 1
    if updated:
        call.outcome, call.outcome_at = outcome, at
        announce_on_commit(call_completed, call_id=call.pk, call_sid=call.call_sid)
    return updated


def record_status(*, params: TwilioCallParams, now: dt.datetime | None = None) -> Call | None:
    """Apply a status callback; out-of-order or replayed callbacks never move a call backwards."""
    now = now or timezone.now()
    with transaction.atomic():
        if params.status not in STATUS_RANK:
            return _locked_call(params.call_sid)
        noting = (f"status:{params.status}", f"status:{params.status}", {"status": params.status})
        call = _locked_call(params.call_sid, noting=noting, at=now)
        if call is None:
            return None
        if call.status in TERMINAL or STATUS_RANK[params.status] <= STATUS_RANK.get(call.status, 0):
            return call  # a replay, or a late callback about an earlier stage
        call.status = params.status
        if params.status in TERMINAL:
            failed = params.status != Call.Status.COMPLETED
            finish(call, now=now, duration=params.duration, failed=failed, held_since=call.held_since)
        call.save(update_fields=["status", *FINISHED])
    return call


def hold_started(call: Call) -> dt.datetime | None:
    """When the caller was put on hold, if they are on hold now (the last hold event is ``hold``)."""
    last = call.events.filter(kind__in=["hold", "unhold"]).order_by("-at", "-pk").values_list("kind", "at")
    kind, at = last.first() or (None, None)
    return at if kind == "hold" else None


def on_hold(call: Call) -> bool:
    """Whether the caller is on hold now."""
    return hold_started(call) is not None


def held_seconds(call: Call, now: dt.datetime) -> int:
    """Seconds the caller has been on hold (0 when not on hold)."""
    started = hold_started(call)
    return max(0, int((now - started).total_seconds())) if started else 0


# What ``finish`` writes on the call's row (its outcome is written apart: ``set_outcome``).
FINISHED = ["ended_at", "duration_seconds", "talk_seconds", "wait_seconds", "hold_seconds"]


def finish(
    call: Call, *, now: dt.datetime, duration: int | None, failed: bool, held_since: dt.datetime | None
) -> None:
    """The caller's leg ended: close the timings and give the call its outcome if it has none yet.
    ``held_since``: when the caller was put on hold if they are on hold now (``hold_started``).
    The caller saves ``FINISHED``."""
    if held_since is not None:  # the caller hung up while on hold: that time counts as hold (AHT)
        seconds = max(0, int((now - held_since).total_seconds()))
        call.hold_seconds = (call.hold_seconds or 0) + seconds
        add_event(call, "unhold", at=now, seconds=seconds, by="hang-up")
    call.ended_at = call.ended_at or now
    if duration is not None:
        call.duration_seconds = duration
    if call.answered_at and call.talk_seconds is None:
        # Talk: answer to hang-up less the time on hold (reported apart), to the nearest second.
        talk = (call.ended_at - call.answered_at).total_seconds() - (call.hold_seconds or 0)
        call.talk_seconds = max(0, round(talk))
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
        _left_queue(call, now)


def _release(call: Call, now: dt.datetime) -> None:
    """The caller is gone: the router frees the call's place and sends its operator to wrap-up."""
    if call.queued_at is not None:
        routing.leave(call_sid=call.call_sid, outcome=call.outcome or "ended", now=now)


def _left_queue(call: Call, now: dt.datetime) -> None:
    """The caller hung up while waiting: free its place; in business hours we owe a callback."""
    if call.queued_at is None:
        return
    routing.leave(call_sid=call.call_sid, outcome=Call.Outcome.ABANDONED, now=now)
    settings = call_setup().settings
    waited = (now - call.queued_at).total_seconds()
    if waited > settings.short_abandon_seconds and is_open(settings, now) and not call.after_hours:
        book_callback(call=call, reason=Callback.Reason.ABANDONED, now=now)


def book_callback(*, call: Call, reason: str, now: dt.datetime, priority: int = 5) -> Callback:
    """A call back owed to this caller; one per call."""
    callback, created = Callback.objects.get_or_create(
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
    if created:
        announce_on_commit(
            callback_booked, callback_id=callback.pk, queue_id=callback.queue_id, due_at=callback.due_at
        )
    return callback
