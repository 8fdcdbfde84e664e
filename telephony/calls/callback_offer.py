"""The caller's side of a callback that keeps their place (R13).

A caller who left the wait (the announced key, or the wait's end) while still in line is offered
to be called back without losing their place. They hear the number that will be called (their
caller ID when it can be dialled, else they type one: checked as E.164, a bad one is refused and
asked again) and roughly when (``routing.expected_wait``), confirm, and hang up. The booking is
one transaction: the ``Callback`` (``keeps_place``, state ``in_line``), the record of the first
try, the router's row turned into a callback at the same place, and the call's outcome.

Until it is booked the call stays in line: an operator who takes it meanwhile connects the
caller as usual (the REST move interrupts this dialog).
"""

from __future__ import annotations

import datetime as dt
import re

from django.db import connection, transaction
from django.utils import timezone
from twilio.twiml.voice_response import VoiceResponse

from telephony import routing, twiml
from telephony.calls.callback_tries import new_try
from telephony.calls.company import call_setup
from telephony.calls.models import Call, Callback
from telephony.calls.records import add_event, set_outcome
from telephony.routing import callbacks as kept
from telephony.routing_models import WaitingCall
from tenants.phones import is_e164

KEEP_PLACE_CHOICES = (
    "To be called back when your turn comes, without losing your place in line, press 1. "
    "To leave a message, press 2."
)
TYPE_NUMBER = "Please type the number to call, starting with the country code, then press the pound key."
MAX_TRIES = 3  # answers we cannot use to one question before a message is taken instead
NUMBER_STEP = "twilio-callback-number"


def _voice() -> twiml.Voice:
    return twiml.Voice.of(call_setup().settings)


def in_line(call: Call) -> bool:
    """Whether the caller still has a place in line that a callback could keep."""
    return WaitingCall.objects.filter(
        call_sid=call.call_sid, state__in=kept.IN_LINE, kind=WaitingCall.Kind.CALL
    ).exists()


def options() -> VoiceResponse:
    """Callback keeping the place (1) or a message (anything else)."""
    return twiml.leave_options(
        voice=_voice(), action=twiml.url("twilio-leave-choice"), choices=KEEP_PLACE_CHOICES
    )


def spoken(number: str) -> str:
    """A number as the voice should read it: digit by digit."""
    return "plus " + " ".join(number.lstrip("+"))


def roughly_when(call: Call) -> str:
    """The expected wait (R18) in whole minutes, as the caller hears it."""
    position, seconds = routing.expected_wait(call_sid=call.call_sid)
    if position == 0:  # taken out of line a moment ago
        return "soon"
    minutes = max(1, round(seconds / 60))
    return f"in about {minutes} minute{'s' if minutes != 1 else ''}"


def ask_number(*, call: Call) -> VoiceResponse:
    """The first question: the caller ID when it can be dialled, else a number typed in."""
    if is_e164(call.from_number):
        return _confirm(call, call.from_number)
    return _type_number("")


def _confirm(call: Call, number: str, tries: int = 0, prefix: str = "") -> VoiceResponse:
    text = (
        f"{prefix}We will call you back at {spoken(number)}, {roughly_when(call)}, keeping your place "
        "in line. To confirm, press 1. To give another number, press 2."
    )
    action = twiml.url(NUMBER_STEP, step="confirm", n=number, tries=tries)
    return twiml.keys(voice=_voice(), text=text, action=action)


def _type_number(prefix: str, tries: int = 0) -> VoiceResponse:
    action = twiml.url(NUMBER_STEP, step="typed", tries=tries)
    return twiml.keys(voice=_voice(), text=prefix + TYPE_NUMBER, action=action, num_digits=16,
                      finish_on_key="#", timeout=10)  # fmt: skip


def answer(
    *, call: Call, step: str, digits: str, number: str, tries: int, now: dt.datetime | None = None
) -> VoiceResponse | None:
    """One answer of the number dialog (``step`` confirm or typed; ``number`` the one heard). None
    after ``MAX_TRIES`` answers we could not use: the caller leaves the line for a message, unless
    an operator took the call meanwhile (``flows.callback_number`` decides, under the call's lock)."""
    now = now or timezone.now()
    if call.outcome:
        return twiml.goodbye("", _voice())
    if not in_line(call):
        # Being connected to an operator right now (the REST move replaces this), or gone.
        return twiml.goodbye("", _voice()) if call.ended_at else _hold_on()
    if step == "confirm":
        if digits == "1" and is_e164(number):
            return book(call=call, phone=number, now=now)
        if digits == "2":
            return _type_number("")
        if tries + 1 >= MAX_TRIES:
            return None
        return _confirm(
            call, number if is_e164(number) else call.from_number, tries + 1, "Sorry, I did not get that. "
        )
    typed = "+" + re.sub(r"\D", "", digits) if digits else ""
    if typed and is_e164(typed):
        return _confirm(call, typed)
    add_event(call, "callback_number_refused", at=now, digits=digits[:20])
    if tries + 1 >= MAX_TRIES:
        return None
    heard = (
        f"Sorry, {spoken(typed)} is not a valid phone number. "
        if len(typed) > 1
        else "Sorry, I got no number. "
    )
    return _type_number(heard, tries + 1)


def _hold_on() -> VoiceResponse:
    response = VoiceResponse()
    _voice().say(response, "Please hold, an operator is taking your call.")
    response.pause(length=10)
    return response


class NoLongerInLine(Exception):
    """The call was taken (or left) while the callback was being booked: nothing is kept."""


def book(*, call: Call, phone: str, now: dt.datetime | None = None) -> VoiceResponse:
    """Book the callback at the caller's place (one transaction) and say goodbye."""
    now = now or timezone.now()
    when = roughly_when(call)
    try:
        with transaction.atomic():
            locked = Call.objects.select_for_update().get(pk=call.pk)
            if locked.outcome:
                return twiml.goodbye("", _voice())
            callback = Callback.objects.create(
                call=locked, phone=phone, reason=Callback.Reason.REQUESTED, queue_id=locked.queue_id,
                priority=7, due_at=now, state=Callback.State.IN_LINE, keeps_place=True,
            )  # fmt: skip
            first = new_try(callback=callback, original=locked, now=now)
            if kept.keep_place(call_sid=locked.call_sid, callback_sid=first.call_sid, now=now) is None:
                raise NoLongerInLine(locked.call_sid)
            set_outcome(locked, Call.Outcome.CALLBACK_REQUESTED, at=now, keeps_place=True)
            add_event(locked, "callback_booked", dedupe="callback", at=now, reason=Callback.Reason.REQUESTED,
                      keeps_place=True, phone=phone, callback=callback.pk)  # fmt: skip
    except NoLongerInLine:
        return _hold_on()
    company = connection.tenant.name
    return twiml.goodbye(
        f"Thank you. {company} will call you back at {spoken(phone)}, {when}. You keep your place in "
        "line, so you can hang up now. Goodbye.",
        _voice(),
    )
