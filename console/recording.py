"""PCI pause from the console: the call's operator (or a supervisor) pauses and resumes its recording,
and a script step marked ``sensitive`` pauses it on entering and resumes it on leaving.

Who may: the operator the call was routed to (their accepted reservation, ``access_reservation``)
and platform supervisors (any company's live call, named by the company and the CallSid); every
read and write runs in the call's company schema. The domain rules are ``telephony.recording_pauses``.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django_tenants.utils import tenant_context

from console.access import ConsoleError, access_reservation, call_for
from scripts_engine import sessions
from telephony import recording_pauses
from telephony.calls.models import Call
from telephony.routing_models import Reservation
from tenants.models import Client

SENSITIVE_REASON = "sensitive step "
RELOADED = "the console reloaded while the recording was paused (it stays paused)"


def _name(user) -> str:
    return user.get_full_name() or user.username


def _set(call: Call, *, on: bool, by: str, reason: str) -> dict[str, Any]:
    try:
        if on:
            recording_pauses.pause(call=call, by=by, reason=reason)
        else:
            recording_pauses.resume(call=call, by=by, reason=reason)
    except recording_pauses.PauseRefused as refused:
        raise ConsoleError(str(refused)) from refused
    return recording_pauses.recording_state(call)


def operator_set(*, reservation_id: int, operator, on: bool) -> dict[str, Any]:
    """The operator pauses (``on``) or resumes their call's recording; the state after."""
    reservation = access_reservation(operator=operator, reservation_id=reservation_id)
    if reservation.state != Reservation.State.ACCEPTED:
        raise ConsoleError("The call is over.")
    with tenant_context(reservation.call.tenant):
        call = call_for(reservation)
        if call is None:
            raise ConsoleError("The call is over.")
        return _set(call, on=on, by=operator.username, reason="operator" if on else "operator resumed")


def operator_keep(*, reservation_id: int, operator) -> dict[str, Any]:
    """The console came back (reload, reconnect) to a paused call: the pause is kept, and said so."""
    reservation = access_reservation(operator=operator, reservation_id=reservation_id)
    with tenant_context(reservation.call.tenant):
        call = call_for(reservation)
        if call is None:
            raise ConsoleError("The call is over.")
        recording_pauses.note_still_paused(call=call, reason=RELOADED, by=operator.username)
        return recording_pauses.recording_state(call)


def operator_follow(*, reservation_id: int, operator) -> dict[str, Any]:
    """The call connected while its script stands on a sensitive step (the first one, say): the
    recording pauses as it does when a move enters one. The state after, and any error."""
    reservation = access_reservation(operator=operator, reservation_id=reservation_id)
    if reservation.state != Reservation.State.ACCEPTED:
        raise ConsoleError("The call is over.")
    with tenant_context(reservation.call.tenant):
        call = call_for(reservation)
        if call is None or call.script_session is None:
            raise ConsoleError("This call has no script to follow.")
        step = sessions.session_step(session=call.script_session).as_dict()
        return follow_step(call, step, by=operator.username)


def supervisor_set(*, slug: str, call_sid: str, supervisor, on: bool) -> dict[str, Any]:
    """A supervisor pauses or resumes a live call of the company ``slug`` (404 for anything else)."""
    company = get_object_or_404(Client.objects.companies(), slug=slug)
    with tenant_context(company):
        call = get_object_or_404(Call, call_sid=call_sid)
        reason = "supervisor" if on else "supervisor resumed"
        return _set(call, on=on, by=supervisor.username, reason=reason)


def follow_step(call: Call, step: dict[str, Any] | None, *, by: str) -> dict[str, Any]:
    """After a script move: a sensitive step pauses the recording, leaving it resumes a pause that a
    sensitive step made (an operator's own pause is theirs to resume). The state, and any error."""
    result: dict[str, Any] = {"recording_error": None}
    state = recording_pauses.recording_state(call)
    if not state["recorded"] or call.answered_at is None or call.ended_at is not None:
        return {**result, "recording": state}
    try:
        pause = recording_pauses.open_pause(call)
        if step and step.get("sensitive"):
            if pause is None:
                recording_pauses.pause(call=call, by=by, reason=SENSITIVE_REASON + step["node"])
        elif pause is not None and pause.data.get("reason", "").startswith(SENSITIVE_REASON):
            left = pause.data["reason"].removeprefix(SENSITIVE_REASON)
            recording_pauses.resume(call=call, by=by, reason=f"left sensitive step {left}")
    except recording_pauses.PauseRefused as refused:
        result["recording_error"] = str(refused)
    result["recording"] = recording_pauses.recording_state(call)
    return result
