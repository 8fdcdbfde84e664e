"""The call records of a callback that keeps the caller's place (R13), one per try to reach the
caller (each Twilio call has its own CallSid), in the company's schema.

A try's record is written before its turn comes (the router's row is named by it, so the screen
pop shows the number and the contact, and the operator's script opens past the phone menu with
the caller's choices) and carries a placeholder id until Twilio gives the call its CallSid. Its
``try_of`` is its ``Callback`` (read with the call's row; its ``callback_dial`` event tells the
same for the call's history) and ``place_keeping_try`` tells it from the outbound dialer's calls
for a booked callback, which name their callback in ``try_of`` too; ``callback_result`` says what
the try gave, as the callbacks' lists read it through ``try_of`` (``operations.callbacks``).
"""

from __future__ import annotations

import datetime as dt
import uuid

from scripts_engine.models import ScriptSession
from scripts_engine.sessions import SessionError, session_start
from telephony.calls.company import call_setup
from telephony.calls.models import Call, Callback
from telephony.calls.records import add_event, contact_for
from telephony.events import DialRefusal

PLACEHOLDER = "callback-"  # + a uuid: a try's id until Twilio gives its CallSid
# The callback rules, one definition for both kinds of callbacks (the outbound dialer's too).
MAX_TRIES = 3
RETRY_AFTER = dt.timedelta(minutes=10)


def new_try(*, callback: Callback, original: Call, now: dt.datetime) -> Call:
    """The record of the next try to call the caller back (not dialed yet)."""
    contact = contact_for(callback.phone) or original.contact
    fields = contact.as_fields() if contact else {"phone": callback.phone}
    call = Call.objects.create(
        call_sid=f"{PLACEHOLDER}{uuid.uuid4().hex}", direction=Call.Direction.OUTBOUND,
        from_number=original.to_number, to_number=callback.phone, contact=contact,
        status=Call.Status.QUEUED, started_at=now, queue_id=original.queue_id,
        queue_name=original.queue_name, script_session=_session(original, fields), try_of=callback,
        place_keeping_try=True,
    )  # fmt: skip
    add_event(call, "callback_dial", dedupe="callback_dial", at=now, callback=callback.pk,
              original=original.pk, attempt=callback.attempts + 1)  # fmt: skip
    return call


def settle_refusal(
    *, callback: Callback, refusal: DialRefusal, waits_in: Callback.State, now: dt.datetime
) -> None:
    """A callback its rule stopped before anything rang (no try counted), saved: given up for good
    when ``refusal.retry_at`` is None, else due again then, waiting in state ``waits_in`` (in line
    keeping the caller's place, or open on the callback list). The caller's original call says
    which and why. One step for both kinds of callbacks (the outbound dialer's too)."""
    if refusal.retry_at is None:
        callback.state = Callback.State.CANCELLED
        add_event(callback.call, "callback_cancelled", dedupe="callback_dnc", at=now,
                  reason=refusal.reason, tries=callback.attempts)  # fmt: skip
    else:
        callback.state, callback.due_at = waits_in, refusal.retry_at
        add_event(callback.call, "callback_postponed", at=now, reason=refusal.reason,
                  until=refusal.retry_at.isoformat())  # fmt: skip
    callback.save(update_fields=["state", "due_at"])


def _session(original: Call, fields: dict[str, str]) -> ScriptSession | None:
    """The company's inbound script from the operator's part, with the caller's menu answers."""
    version = call_setup().script_version
    if version is None:
        return None
    answers = dict(original.script_session.answers) if original.script_session_id else {}
    try:
        return session_start(script=version.script, version=version, kind=ScriptSession.Kind.CALL,
                             contact=fields, operator_part=True, menu_answers=answers)  # fmt: skip
    except SessionError:
        return None


def callback_of(call: Call, *, lock: bool = False) -> Callback | None:
    """The place-keeping callback a try's record belongs to (None for any other call, unread)."""
    if not is_try(call) or call.try_of_id is None:
        return None
    callbacks = Callback.objects.select_related("call")
    return (
        (callbacks.select_for_update(of=("self",)) if lock else callbacks).filter(pk=call.try_of_id).first()
    )


def is_try(call: Call) -> bool:
    """Whether this record is a try to call back a caller who kept their place (the outbound
    dialer's calls for a booked callback have a ``try_of`` too: they are outbound's, its webhooks
    answer for them)."""
    return call.place_keeping_try


def try_card(call: Call) -> dict[str, object] | None:
    """What the operator's screen pop says of a try: the number the platform dials, which try."""
    callback = callback_of(call)
    if callback is None:
        return None
    return {
        "number": call.to_number,
        "asked_at": callback.created_at.isoformat(),
        "attempt": callback.attempts + (0 if call.placed_at else 1),
        "max_attempts": MAX_TRIES,
    }
