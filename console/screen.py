"""The operator console's screen: the screen pop with an offer (R19), the accepted call as the
console shows it, and the script runner (R15).

Every function takes the operator and a reservation id, checks that the reservation was made to
this operator (``access_reservation``), then reads or writes the client company's call inside
``tenant_context``: an operator only ever sees calls routed to them, from the right schema.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django_tenants.utils import tenant_context

from config.queries import json_key
from console import outbound as console_outbound
from console import recording as console_recording
from console.access import ConsoleError, access_reservation, call_for, live_call
from console.controls import specialists
from scripts_engine import sessions
from scripts_engine.models import Disposition
from telephony import recording_pauses
from telephony.announcements import announcement_text
from telephony.calls.callback_tries import try_card
from telephony.calls.models import Call, Callback, Contact, TelephonySettings
from telephony.calls.records import add_event, on_hold
from telephony.routing_models import Reservation, WaitingCall

HISTORY_LIMIT = 10


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
        call = live_call(reservation, call)
        view.update(_script(call))
        view["call"] = {
            "answered_at": (call.answered_at or reservation.closed_at or reservation.offered_at).isoformat(),
            "ended_at": call.ended_at.isoformat() if call.ended_at else None,
            "live": reservation.state == Reservation.State.ACCEPTED,
        }
        view["dispositions"] = [{"code": d.code, "label": d.label} for d in Disposition.objects.all()]
        view["specialists"] = specialists(timezone.now())
        # Each note's whole ``data``, its text read here (``config.queries.json_key``).
        notes = call.events.filter(kind="note").values_list("data", flat=True)
        view["notes"] = [json_key(data, "text") for data in notes]
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
        call = live_call(reservation)
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
