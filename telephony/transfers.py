"""Transfers to the client company's specialists (R8), inside the call's conference.

*Blind*: the specialist is rung into the conference; when they join, the operator leaves (their
talk time is kept) and the call's outcome is ``transferred``. *Warm*: the caller is put on hold
while the operator talks to the specialist; the operator then joins them all and leaves
(``complete``), or takes the call back (``cancel``). A specialist who does not answer leaves the
call with the operator (and the caller taken off hold). Never ``abandoned``.
"""

from __future__ import annotations

import contextlib
import datetime as dt

from django.db import transaction
from django.utils import timezone

from telephony import conferences, gateway, recording_pauses, routing, twiml
from telephony.calls.models import Call, CallEvent
from telephony.calls.records import add_event, set_outcome

SPECIALIST_PREFIX = "specialist-"


def specialist_label(reservation_id: int) -> str:
    return f"{SPECIALIST_PREFIX}{reservation_id}"


def _pending(call: Call) -> CallEvent | None:
    """The transfer under way (started, not yet done or failed), if any."""
    kinds = ["transfer_started", "transfer_done", "transfer_failed"]
    event = call.events.filter(kind__in=kinds).order_by("-pk").first()
    return event if event is not None and event.kind == "transfer_started" else None


def start(*, call: Call, reservation_id: int, key: str, name: str, phone: str, warm: bool, by: str) -> None:
    """Ring the specialist into the conference (the caller on hold first when ``warm``)."""
    if _pending(call) is not None:
        raise conferences.ConferenceRefused("A transfer is already under way.")
    if warm:
        conferences.set_hold(call=call, on=True, by=by)
    # The operator will leave: their leaving must not end the conference any more.
    conferences.change_participant(
        call, conferences.operator_label(reservation_id), end_conference_on_exit=False
    )
    try:
        answer, _ = gateway.add_participant(
            conference=conferences.conference_name(call.call_sid),
            to=phone,
            caller_id=call.to_number,
            label=specialist_label(reservation_id),
            status_callback=gateway.absolute(
                twiml.url("twilio-conference-leg", c=call.pk, r=reservation_id, leg="specialist")
            ),
            timeout=25,
        )
    except gateway.TwilioUnavailable as exc:
        raise conferences.ConferenceRefused("Twilio is not answering right now; please try again.") from exc
    if answer is not gateway.Answer.DONE:
        raise conferences.ConferenceRefused("The specialist could not be called.")
    Call.objects.filter(pk=call.pk).update(transferred_to=key)
    add_event(call, "transfer_started", specialist=key, name=name, mode="warm" if warm else "blind", by=by,
              reservation=reservation_id)  # fmt: skip


def specialist_joined(*, call: Call, label: str, now: dt.datetime | None = None) -> bool:
    """The specialist is on the line: a blind transfer is done; a warm one waits for the operator."""
    pending = _pending(call)
    if pending is None or label != specialist_label(pending.data.get("reservation", 0)):
        return False
    add_event(call, "specialist_joined", dedupe=f"specialist_joined:{label}", at=now)
    if pending.data.get("mode") == "blind":
        return complete(call=call, now=now)
    return True


def complete(*, call: Call, now: dt.datetime | None = None) -> bool:
    """The operator leaves the caller with the specialist: outcome ``transferred``, talk time kept."""
    now = now or timezone.now()
    pending = _pending(call)
    if pending is None:
        return False
    reservation_id = pending.data["reservation"]
    if conferences.on_hold_now(call):
        conferences.set_hold(call=call, on=False, by=pending.data.get("by", ""))
    sid = conferences.conference_sid(call)
    # The operator's own hang-up does the same if Twilio does not answer now.
    with contextlib.suppress(gateway.TwilioUnavailable):
        gateway.remove_participant(conference_sid=sid, participant=conferences.operator_label(reservation_id))
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        talk = max(0, round((now - locked.answered_at).total_seconds())) if locked.answered_at else 0
        Call.objects.filter(pk=call.pk).update(talk_seconds=talk)
        add_event(call, "transfer_done", dedupe=f"transfer_done:{pending.pk}", at=now,
                  specialist=pending.data.get("specialist", ""), talk_seconds=talk)  # fmt: skip
        set_outcome(locked, Call.Outcome.TRANSFERRED, at=now, specialist=pending.data.get("specialist", ""))
        routing.leave(call_sid=call.call_sid, outcome=Call.Outcome.TRANSFERRED, now=now)
        # The caller may still be reading out card data to the specialist: the pause stays, said so.
        recording_pauses.note_still_paused(call=call, reason="transferred to a specialist while paused")
    return True


def cancel(*, call: Call, reason: str, by: str = "") -> bool:
    """The specialist did not answer, or the operator takes the call back (warm): the specialist's
    leg is dropped, the caller taken off hold, the operator's leaving ends the call again."""
    pending = _pending(call)
    if pending is None:
        return False
    reservation_id = pending.data["reservation"]
    sid = conferences.conference_sid(call)
    with contextlib.suppress(gateway.TwilioUnavailable):  # the specialist's ring times out by itself
        gateway.remove_participant(conference_sid=sid, participant=specialist_label(reservation_id))
        gateway.update_participant(conference_sid=sid, participant=conferences.operator_label(reservation_id),
                                   end_conference_on_exit=True)  # fmt: skip
    if conferences.on_hold_now(call):
        conferences.set_hold(call=call, on=False, by=by or "transfer")
    add_event(call, "transfer_failed", dedupe=f"transfer_failed:{pending.pk}", reason=reason)
    Call.objects.filter(pk=call.pk).update(transferred_to="")
    return True
