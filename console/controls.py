"""The operator's call controls: transfer to a specialist (R8), hold, mute, hang up.

Each checks that the reservation was made to this operator (``access_reservation``) and works on
the client company's call inside ``tenant_context``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from django_tenants.utils import tenant_context

from console import outbound as console_outbound
from console.access import ConsoleError, access_reservation, call_for, live_call
from operations.service import weekly_hours_text
from scripts_engine.models import Specialist
from telephony import callback_dial, conferences, gateway, routing, transfers
from telephony.calls.callback_tries import PLACEHOLDER
from telephony.calls.flows import voice_of
from telephony.calls.hours import in_force, specialist_available
from telephony.calls.models import Call, TelephonySettings
from telephony.calls.records import add_event, on_hold
from telephony.routing_models import Reservation


def transfer(
    *, reservation_id: int, operator, specialist_key: str = "", mode: str = "blind", action: str = "start"
) -> bool:
    """Hand the caller to one of the client company's specialists (R8): in the call's conference,
    blind (the operator leaves once the specialist joins) or warm (the caller on hold while the
    operator talks to them; then ``action`` complete or cancel). Outside a conference, by TwiML."""
    reservation = access_reservation(operator=operator, reservation_id=reservation_id)
    if reservation.state != Reservation.State.ACCEPTED:
        raise ConsoleError("The call is over.")
    with tenant_context(reservation.call.tenant):
        call = live_call(reservation)
        if conferences.conference_sid(call) and call.answered_at is not None:
            return _conference_transfer(call, reservation, operator, specialist_key, mode, action)
        specialist = _available_specialist(specialist_key, timezone.now())
        voice = voice_of(TelephonySettings.current())
        done = gateway.transfer_to_specialist(
            call_sid=call.call_sid, number=specialist.phone, name=specialist.name,
            caller_id=call.to_number, voice=voice,
        )  # fmt: skip
        if not done:  # Twilio did not take the new TwiML: the caller is not with the specialist
            raise ConsoleError(
                f"The transfer to {specialist.name} did not go through: the call could not be moved."
            )
        Call.objects.filter(pk=call.pk).update(transferred_to=specialist.key)
        add_event(call, "transferred", specialist=specialist.key, by=operator.username)
    return done


def specialists(now: datetime) -> list[dict[str, Any]]:
    """The company's specialists, each with whether they take transfers now and their hours."""
    settings = in_force(TelephonySettings.current(), now)
    return [
        {"key": s.key, "name": s.name, "available": specialist_available(s, settings, now),
         "hours": weekly_hours_text(s.hours or {})}
        for s in Specialist.objects.all()
    ]  # fmt: skip


def _available_specialist(key: str, now: datetime) -> Specialist:
    """The specialist to transfer to, refused (with their hours) outside the hours they take transfers."""
    specialist = Specialist.objects.filter(key=key).first()
    if specialist is None:
        raise ConsoleError("Unknown specialist.")
    if not specialist_available(specialist, in_force(TelephonySettings.current(), now), now):
        raise ConsoleError(
            f"{specialist.name} takes transfers {weekly_hours_text(specialist.hours)} (company time), "
            "not on the company's holidays; choose another specialist or take a message."
        )
    return specialist


def _conference_transfer(
    call: Call, reservation: Reservation, operator, key: str, mode: str, action: str
) -> bool:
    try:
        if action == "complete":
            return transfers.complete(call=call)
        if action == "cancel":
            return transfers.cancel(call=call, reason="taken back", by=operator.username)
        if action != "start" or mode not in {"blind", "warm"}:
            raise ConsoleError('Say how: {"specialist": key, "mode": "blind" or "warm"}, or {"action": '
                               '"complete" or "cancel"}.')  # fmt: skip
        specialist = _available_specialist(key, timezone.now())
        transfers.start(call=call, reservation_id=reservation.pk, key=specialist.key, name=specialist.name,
                        phone=specialist.phone, warm=mode == "warm", by=operator.username)  # fmt: skip
    except conferences.ConferenceRefused as refused:
        raise ConsoleError(str(refused)) from refused
    return True


def _conference_call(reservation_id: int, operator) -> tuple[Reservation, Call | None]:
    """The accepted reservation and its call when it is connected through a conference (else None)."""
    reservation = access_reservation(operator=operator, reservation_id=reservation_id)
    if reservation.state != Reservation.State.ACCEPTED:
        raise ConsoleError("The call is over.")
    with tenant_context(reservation.call.tenant):
        call = call_for(reservation)
        if call is None or call.ended_at is not None:
            raise ConsoleError("The call is over.")
        return reservation, call if conferences.conference_sid(call) else None


def hold(*, reservation_id: int, operator, on: bool) -> dict[str, Any]:
    """Hold or take back: a conference call through its participant (music, recording goes on, no
    re-ring); an outbound call as before (``console.outbound.hold``)."""
    reservation, call = _conference_call(reservation_id, operator)
    if call is None:
        return console_outbound.hold(reservation_id=reservation_id, operator=operator, on=on)
    with tenant_context(reservation.call.tenant):
        if call.answered_at is None:
            raise ConsoleError("Only a call in progress can be put on hold.")
        if on_hold(call) == on:
            return {"on_hold": on}
        try:
            conferences.set_hold(call=call, on=on, by=operator.username)
        except conferences.ConferenceRefused as refused:
            raise ConsoleError(str(refused)) from refused
    return {"on_hold": on}


def mute(*, reservation_id: int, operator, on: bool) -> dict[str, Any]:
    """Mute the operator's line in the call's conference (the caller does not hear them)."""
    reservation, call = _conference_call(reservation_id, operator)
    if call is None or call.answered_at is None:
        raise ConsoleError("Only a connected call can be muted.")
    with tenant_context(reservation.call.tenant):
        try:
            conferences.set_mute(call=call, reservation_id=reservation.pk, on=on, by=operator.username)
        except conferences.ConferenceRefused as refused:
            raise ConsoleError(str(refused)) from refused
    return {"muted": on}


def end_call(*, reservation_id: int, operator) -> None:
    """The operator hangs up: Twilio ends the call, the operator goes to wrap-up."""
    reservation = access_reservation(operator=operator, reservation_id=reservation_id)
    if reservation.state != Reservation.State.ACCEPTED:
        return
    if console_outbound.never_placed(reservation):  # an outbound preview never dialed: skip it
        console_outbound.skip(reservation_id=reservation_id, operator=operator)
        return
    call_sid = reservation.call.call_sid
    if call_sid.startswith(PLACEHOLDER):  # a callback's try Twilio has not placed: nothing rings yet
        routing.leave(call_sid=call_sid, outcome="ended by operator")
        with tenant_context(reservation.call.tenant):
            callback_dial.ended_before_placed(call_sid=call_sid)
        return
    gateway.hang_up(call_sid=call_sid)
    routing.leave(call_sid=call_sid, outcome="ended by operator")
