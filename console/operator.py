"""The operator console's reads and writes: screen pop, script runner, wrap-up (R15, R16, R19).

Every function takes the operator and a reservation id, checks that the reservation was made to
this operator (``access_reservation``), then reads or writes the client company's call inside
``tenant_context``: an operator only ever sees calls routed to them, from the right schema.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from console import outbound as console_outbound
from console import recording as console_recording
from console.access import ConsoleError, access_reservation, call_for
from operations.service import weekly_hours_text
from scripts_engine import sessions
from scripts_engine.models import Disposition, ScriptAnswer, Specialist
from telephony import callback_dial, conferences, gateway, recording_pauses, routing, transfers
from telephony.announcements import announcement_text
from telephony.calls.callback_tries import PLACEHOLDER, try_card
from telephony.calls.flows import voice_of
from telephony.calls.hours import in_force, specialist_available
from telephony.calls.models import Call, Callback, Contact, TelephonySettings
from telephony.calls.records import add_event, on_hold
from telephony.operators import InvalidTransition, profile_for
from telephony.routing_models import OperatorEvent, OperatorState, Reservation, WaitingCall

HISTORY_LIMIT = 10
MISSED_WINDOW = timedelta(hours=1)


def _contact_card(contact: Contact | None, phone: str) -> dict[str, Any]:
    if contact is None:
        return {"known": False, "phone": phone, "name": "", "email": "", "company": "", "vip": False,
                "notes": "", "language": ""}  # fmt: skip
    return {
        "known": True,
        "phone": contact.phone,
        "name": contact.name,
        "email": contact.email,
        "company": contact.company,
        "vip": contact.vip,
        "notes": contact.notes,
        "language": contact.language,
    }


def _history(call: Call) -> list[dict[str, Any]]:
    earlier = Call.objects.exclude(pk=call.pk).order_by("-started_at")
    if call.contact_id:
        earlier = earlier.filter(contact_id=call.contact_id)
    else:
        earlier = earlier.filter(from_number=call.from_number)
    labels = dict(Disposition.objects.values_list("code", "label"))
    return [
        {
            "at": c.started_at.isoformat(),
            "outcome": c.get_outcome_display() if c.outcome else "",
            "disposition": labels.get(c.disposition, c.disposition),
            "operator": c.operator_name,
        }
        for c in earlier[:HISTORY_LIMIT]
    ]


def screen_pop(*, reservation_id: int, operator) -> dict[str, Any]:
    """What the console shows with an offer (R19): the company, its greeting, the caller, the queue."""
    reservation = access_reservation(operator=operator, reservation_id=reservation_id)
    return _pop(reservation)[0]


def _pop(reservation: Reservation) -> tuple[dict[str, Any], Call | None]:
    """The screen pop of a reservation and the tenant's call it was read from (None if gone)."""
    waiting = reservation.call
    tenant = waiting.tenant
    pop: dict[str, Any] = {
        "reservation": reservation.pk,
        "state": reservation.state,
        "tenant": {"name": tenant.name, "brand_color": tenant.brand_color},
        "queue": waiting.queue.name,
        "waited": round((reservation.offered_at - waiting.enqueued_at).total_seconds()),
        "offered_at": reservation.offered_at.isoformat(),
        "expires_at": reservation.expires_at.isoformat(),
        "call_sid": waiting.call_sid,
    }
    with tenant_context(tenant):
        call = call_for(reservation)
        company = TelephonySettings.current()
        pop["greeting"] = company.greeting
        pop["script"] = ""
        if call is not None and call.script_session is not None:
            pop["script"] = call.script_session.version.script.name
        pop["announcement"] = announcement_text(call, company) if call is not None else ""
        if call is None:
            pop.update(contact=_contact_card(None, ""), history=[], callbacks=[])
            return pop, None
        # The other party: the caller of an inbound call, the callee of an outbound one.
        phone = call.to_number if call.direction == Call.Direction.OUTBOUND else call.from_number
        pop["direction"] = call.direction
        pop["contact"] = _contact_card(call.contact, phone)
        pop["history"] = _history(call)
        callbacks = Callback.objects.filter(phone=phone, state=Callback.State.OPEN)
        pop["callbacks"] = [
            {"due_at": cb.due_at.isoformat(), "reason": cb.get_reason_display()} for cb in callbacks[:5]
        ]
        pop["callback"] = try_card(call) if waiting.kind == WaitingCall.Kind.CALLBACK else None
    return pop, call


def _live_call(reservation: Reservation, call: Call | None = None) -> Call:
    """The tenant's call of an accepted reservation, still in the operator's hands (not wrapped up).

    ``call``: the call already read for this reservation (else it is read here).
    """
    if reservation.state not in (Reservation.State.ACCEPTED, Reservation.State.COMPLETED):
        raise ConsoleError("This call is not yours to handle.")
    call = call or call_for(reservation)
    if call is None:
        raise ConsoleError("This call is over.")
    if call.wrapup_ended_at is not None:
        raise ConsoleError("This call is wrapped up.")
    return call


def _script(call: Call) -> dict[str, Any]:
    session = call.script_session
    if session is None:
        return {"step": None, "answers": {}}
    step = sessions.session_step(session=session)
    return {"step": step.as_dict(), "answers": session.answers, "script": session.version.script.name}


def call_view(*, reservation_id: int, operator) -> dict[str, Any]:
    """The accepted call as the console shows it: pop, script step, answers, dispositions, specialists."""
    reservation = access_reservation(operator=operator, reservation_id=reservation_id)
    view, call = _pop(reservation)
    with tenant_context(reservation.call.tenant):
        call = _live_call(reservation, call)
        view.update(_script(call))
        view["call"] = {
            "answered_at": (call.answered_at or reservation.closed_at or reservation.offered_at).isoformat(),
            "ended_at": call.ended_at.isoformat() if call.ended_at else None,
            "live": reservation.state == Reservation.State.ACCEPTED,
        }
        view["dispositions"] = [{"code": d.code, "label": d.label} for d in Disposition.objects.all()]
        view["specialists"] = _specialists(timezone.now())
        view["notes"] = list(call.events.filter(kind="note").values_list("data__text", flat=True))
        view["outbound"] = console_outbound.outbound_view(call)
        view["call"]["on_hold"] = on_hold(call)
        view["call"]["connected"] = call.answered_at is not None and call.ended_at is None
        view["recording"] = recording_pauses.recording_state(call)
    return view


def script_act(
    *, reservation_id: int, operator, action: str, node: str = "", value: Any = None
) -> dict[str, Any]:
    """One move in the call's pinned script: ``answer``, ``ack``, ``back`` or ``note``.

    Returns the step to show now, the answers so far and the refusal message (inline validation).
    """
    reservation = access_reservation(operator=operator, reservation_id=reservation_id)
    with tenant_context(reservation.call.tenant):
        call = _live_call(reservation)
        if action == "note":
            text = str(value or "").replace("\x00", "").strip()[:2000]
            if text:
                add_event(call, "note", text=text, by=operator.username)
            return {**_script(call), "error": None, "note": text}
        session = call.script_session
        if session is None:
            raise ConsoleError("This client company has no script for this call.")
        by = operator.get_full_name() or operator.username
        if action == "answer":
            step, error = sessions.session_answer(session=session, node_id=node, raw=value, by_name=by)
        elif action == "ack":
            step, error = sessions.session_ack(session=session, node_id=node)
        elif action == "back":
            step, error = sessions.session_back(session=session), None
        else:
            raise ConsoleError("Unknown script action.")
        shown = step.as_dict()
        return {"step": shown, "answers": session.answers, "error": error,
                **console_recording.follow_step(call, shown, by=operator.username)}  # fmt: skip


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
        call = _live_call(reservation)
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


def _specialists(now: datetime) -> list[dict[str, Any]]:
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


def wrap_up(
    *, reservation_id: int, operator, disposition: str, note: str = "", then: str = "available",
    now: datetime | None = None,
) -> None:  # fmt: skip
    """Store the disposition, the note and the wrap-up time on the call; then available or not."""
    now = now or timezone.now()
    reservation = access_reservation(operator=operator, reservation_id=reservation_id)
    if reservation.state == Reservation.State.ACCEPTED:
        end_call(reservation_id=reservation_id, operator=operator)
        reservation.refresh_from_db()
    if then == OperatorState.AVAILABLE and _on_another_call(operator, reservation):
        raise ConsoleError(ON_ANOTHER_CALL)
    with tenant_context(reservation.call.tenant), transaction.atomic():
        call = _live_call(reservation)
        known = Disposition.objects.filter(code=disposition).exists()
        if not known and (disposition or Disposition.objects.exists()):
            raise ConsoleError("Choose a disposition from the list.")  # none to choose: none needed
        started = call.ended_at or reservation.closed_at or now
        seconds = max(0, int((now - started).total_seconds()))
        Call.objects.filter(pk=call.pk, wrapup_ended_at__isnull=True).update(
            disposition=disposition, wrapup_seconds=seconds, wrapup_ended_at=now
        )
        add_event(call, "wrap_up", dedupe="wrap_up", at=now, disposition=disposition,
                  note=note.replace("\x00", "")[:2000], by=operator.username)  # fmt: skip
    if then == OperatorState.AVAILABLE:
        try:
            routing.operator_set_state(operator=operator, state=OperatorState.AVAILABLE)
        except InvalidTransition as refused:  # a new call was taken meanwhile: the wrap-up is kept
            raise ConsoleError(f"Wrap-up saved. {ON_ANOTHER_CALL}") from refused


ON_ANOTHER_CALL = (
    "You are on another call now, so you cannot become available: save this wrap-up without "
    "'available', or after that call."
)


def _on_another_call(operator, reservation: Reservation) -> bool:
    """Whether the operator has taken a call other than this reservation's (then not available)."""
    return (
        Reservation.objects.filter(operator__user=operator, state=Reservation.State.ACCEPTED)
        .exclude(pk=reservation.pk)
        .exists()
    )


def _current_reservation(profile) -> Reservation | None:
    """The offer ringing, the call taken, or the ended call still in wrap-up."""
    live = (
        Reservation.objects.select_related("call__tenant", "call__queue")
        .filter(operator=profile, state__in=["offered", "accepted", "completed"])
        .order_by("-offered_at")
        .first()
    )
    if live is None or live.state != Reservation.State.COMPLETED:
        return live
    with tenant_context(live.call.tenant):
        wrapped = Call.objects.filter(call_sid=live.call.call_sid, wrapup_ended_at__isnull=False).exists()
    return None if wrapped else live


def console_state(*, operator) -> dict[str, Any]:
    """Everything the console must show on (re)load, read from the database (R16)."""
    profile = profile_for(operator)
    now = timezone.now()
    shift = (
        OperatorEvent.objects.filter(operator=profile, kind="state", state="available", at__date=now.date())
        .order_by("at")
        .values_list("at", flat=True)
        .first()
    )
    state: dict[str, Any] = {
        "state": profile.state,
        "reason": profile.break_reason,
        "state_since": profile.state_since.isoformat(),
        "shift_started": shift.isoformat() if shift else None,
        "now": now.isoformat(),
        "reservation": None,
        "phase": None,
    }
    current = _current_reservation(profile)
    if current is not None:
        state["reservation"] = current.pk
        state["phase"] = "offer" if current.state == Reservation.State.OFFERED else "call"
    missed = Reservation.objects.filter(
        operator=profile, state=Reservation.State.EXPIRED, closed_at__gte=now - MISSED_WINDOW
    ).select_related("call__tenant", "call__queue")
    state["missed"] = [
        {"tenant": r.call.tenant.name, "queue": r.call.queue.name, "at": r.offered_at.isoformat()}
        for r in missed.order_by("-offered_at")[:5]
    ]
    return state


def answers_of(call: Call) -> dict[str, Any]:
    """Every answer given on the call, in order (the stored log, not only the final values)."""
    if call.script_session_id is None:
        return {}
    return dict(
        ScriptAnswer.objects.filter(session_id=call.script_session_id)
        .order_by("pk")
        .values_list("node_id", "value")
    )
