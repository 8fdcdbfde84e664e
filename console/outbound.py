"""The console's outbound and hold actions: the preview card (Dial, Skip), opt-out, hold for any call.

Every function checks the reservation was made to this operator (``access_reservation``), then
works inside the client company's schema, like ``console.screen`` and ``console.controls``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_tenants.utils import tenant_context

from console.access import ConsoleError, access_reservation, call_for
from outbound import calls, dialer, progress, rules
from outbound.models import Campaign, CampaignContact
from telephony import gateway
from telephony.calls.models import Call, Callback
from telephony.calls.records import add_event, held_seconds, on_hold
from telephony.routing_models import Reservation, WaitingCall

ATTEMPTS_SHOWN = 5


def never_placed(reservation: Reservation) -> bool:
    """An outbound reservation whose call Twilio never placed (a preview not dialed)."""
    if reservation.call.direction != WaitingCall.Direction.OUTBOUND:
        return False
    with tenant_context(reservation.call.tenant):
        call = call_for(reservation)
        return call is not None and calls.is_pending(call)


def phase_of(call: Call, task: dict[str, Any] | None = None) -> str:
    """preview (not dialed, the operator dials), dialing, connected, or ended.

    ``task``: the call's outbound task when already read. A progressive call is placed by the
    dialer right after its reservation commits: in between it is "dialing", never a preview
    (the console must not offer a Dial button that would only answer "already dialed").
    """
    if calls.is_pending(call) and call.status == Call.Status.QUEUED:
        task = task if task is not None else calls.task_of(call) or {}
        return "preview" if task.get("mode") == Campaign.Mode.PREVIEW else "dialing"
    if call.ended_at or call.outcome:
        return "ended"
    if call.answered_at:
        return "connected"
    return "dialing"


def outbound_view(call: Call) -> dict[str, Any] | None:
    """The outbound part of the console's call view (None for an inbound call)."""
    task = calls.task_of(call)
    if task is None:
        return None
    view: dict[str, Any] = {
        "phase": phase_of(call, task),
        "task": task["task"],
        "mode": task["mode"],
        "attempts": [],
    }
    if task["task"] == "campaign":
        campaign = Campaign.objects.filter(pk=task["campaign"]).first()
        entry = CampaignContact.objects.filter(pk=task["entry"]).first()
        view["campaign"] = campaign.name if campaign else ""
        view["kind"] = campaign.get_kind_display() if campaign else ""
        if entry is not None:
            view["attempt_number"] = entry.attempts
            view["max_attempts"] = campaign.max_attempts if campaign else None
            view["attempts"] = [
                {"at": a.started_at.isoformat(), "outcome": a.get_outcome_display() if a.outcome else "now"}
                for a in entry.attempt_log.order_by("-started_at")[:ATTEMPTS_SHOWN]
            ]
    else:
        callback = Callback.objects.filter(pk=task["callback"]).first()
        view["campaign"] = "Callback"
        view["kind"] = callback.get_reason_display() if callback else "Callback"
        view["attempt_number"] = callback.attempts if callback else None
        view["max_attempts"] = calls.CALLBACK_MAX_ATTEMPTS
    return view


def _outbound_call(reservation: Reservation) -> tuple[Call, dict[str, Any]]:
    if reservation.state != Reservation.State.ACCEPTED:
        raise ConsoleError("This call is over.")
    call = call_for(reservation)
    if call is None:
        raise ConsoleError("This call is over.")
    task = calls.task_of(call)
    if task is None:
        raise ConsoleError("This is not an outbound call.")
    return call, task


def dial(*, reservation_id: int, operator) -> dict[str, Any]:
    """Preview: the operator read the card and dials (checked again: DNC, window, campaign)."""
    reservation = access_reservation(operator=operator, reservation_id=reservation_id)
    tenant = reservation.call.tenant
    with tenant_context(tenant):
        call, task = _outbound_call(reservation)
        if phase_of(call, task) != "preview":
            raise ConsoleError("This call is already dialed.")
        try:
            placed = dialer.place_call(tenant=tenant, call_id=call.pk)
        except dialer.DialError as refused:
            raise ConsoleError(f"Not dialed: {refused}") from refused
    return {"dialed": placed}


def skip(*, reservation_id: int, operator) -> dict[str, Any]:
    """Preview: not this contact now; it goes back (due again later) and the operator is free."""
    reservation = access_reservation(operator=operator, reservation_id=reservation_id)
    with tenant_context(reservation.call.tenant):
        call, task = _outbound_call(reservation)
        if phase_of(call, task) != "preview":
            raise ConsoleError("A dialed call cannot be skipped; end it instead.")
        progress.give_back(call=call, reason="skipped", now=timezone.now(), delay=dialer.SKIP_DELAY)
    return {"skipped": True}


def opt_out(*, reservation_id: int, operator) -> dict[str, Any]:
    """The person asked never to be called again by this company: its do-not-call list."""
    reservation = access_reservation(operator=operator, reservation_id=reservation_id)
    with tenant_context(reservation.call.tenant):
        call, _ = _outbound_call(reservation)
        by = operator.get_full_name() or operator.username
        with transaction.atomic():  # the list entry and the call's event, together or neither
            try:
                rules.opt_out(phone=call.to_number, by_name=by, reason="Asked during a call")
            except ValueError as refused:  # a number not in E.164 form
                raise ConsoleError(f"Not listed: {refused}") from refused
            add_event(call, "opted_out", dedupe="opted_out", by=operator.username)
    return {"opted_out": True}


def _hold_refused(call: Call, *, on: bool) -> str:
    """What the operator is told when Twilio did not take the hold change: a hang-up only when
    the call record says the caller is gone."""
    call.refresh_from_db(fields=["ended_at", "status"])
    if call.ended_at is not None or call.status not in (
        Call.Status.IN_PROGRESS,
        Call.Status.RINGING,
        Call.Status.QUEUED,
    ):
        return "The caller has hung up."
    if on:
        return "The call could not be put on hold (Twilio refused the change); the caller is still with you."
    return "The caller could not be taken off hold (Twilio refused the change); they still hear the music."


def hold(*, reservation_id: int, operator, on: bool, now: dt.datetime | None = None) -> dict[str, Any]:
    """Put the caller on hold (music) or take them back (bridged to this operator again).

    The time on hold is added to ``Call.hold_seconds`` when the caller comes back (or, for an
    outbound call, when it ends on hold).
    """
    now = now or timezone.now()
    reservation = access_reservation(operator=operator, reservation_id=reservation_id)
    if reservation.state != Reservation.State.ACCEPTED:
        raise ConsoleError("The call is over.")
    with tenant_context(reservation.call.tenant):
        call = call_for(reservation)
        if call is None or call.answered_at is None or call.ended_at is not None:
            raise ConsoleError("Only a call in progress can be put on hold.")
        if on_hold(call) == on:
            return {"on_hold": on}
        text = progress.hold_twiml(call=call) if on else progress.reconnect_twiml(call=call)
        if not gateway.update_twiml(call_sid=call.call_sid, twiml_text=text):
            raise ConsoleError(_hold_refused(call, on=on))
        with transaction.atomic():
            if on:
                add_event(call, "hold", at=now, by=operator.username)
            else:
                seconds = held_seconds(call, now)
                Call.objects.filter(pk=call.pk).update(hold_seconds=F("hold_seconds") + seconds)
                add_event(call, "unhold", at=now, by=operator.username, seconds=seconds)
    return {"on_hold": on}
