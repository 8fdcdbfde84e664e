"""Call records: created once per CallSid, moved forward only, ended with exactly one outcome."""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

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
            from_number=post.get("From", ""),  # any length: SIP URIs, "client:…" (stored whole)
            to_number=post.get("To", ""),
            status=post.get("CallStatus", ""),
            direction="outbound" if post.get("Direction", "").startswith("outbound") else "inbound",
            digits=post.get("Digits", "")[:32],
            speech=post.get("SpeechResult", "")[:500],
            duration=int(duration) if str(duration or "").isdigit() else None,
        )


def add_event(
    call: Call,
    kind: str,
    *,
    dedupe: str | None = None,
    at: dt.datetime | None = None,
    **data: Any,
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


def start_inbound(
    *,
    params: TwilioCallParams,
    now: dt.datetime | None = None,
    read: tuple[str, dict[str, Any]] | None = None,
    guard: tuple[str, dict[str, Any]] | None = None,
) -> tuple[Call | None, bool, Any]:
    """The call record for an incoming-call webhook: ``(call, created, value read)``; a replay
    returns the same call.

    The caller's contact (created on the first call from a valid number), the call and its
    ``incoming`` event are written by one statement: this runs for every call that reaches us.
    A replay, or the same webhook twice at once, inserts nothing and reads the existing call.
    ``read``: an expression (a scalar subquery) and its parameters, whose value the same statement
    reads for the caller (what the call's answer needs), or None on a replay. ``guard``: a
    condition and its parameters; when it does not hold, the statement writes nothing and this
    returns ``(None, False, None)``.
    """
    now = now or timezone.now()
    status = params.status if params.status in STATUS_RANK else Call.Status.RINGING
    values = {
        "call_sid": params.call_sid,
        "direction": Call.Direction.INBOUND,
        "from_number": params.from_number,
        "to_number": params.to_number,
        "status": status,
        "started_at": now,
    }
    read_sql, read_params = read or ("NULL", {})
    guard_sql, guard_params = guard or ("TRUE", {})
    sql, fields, contact_fields = _start_inbound_sql(read_sql, guard_sql)
    # Only an E.164 number gets a card (the statement checks it too); anything else, however long,
    # must not reach the card's 16-character column even in a branch that inserts nothing.
    contact = {"phone": params.from_number if re.match(E164, params.from_number) else ""}
    arguments = {
        "phone": params.from_number,
        "phone_pattern": E164,
        "event_at": now,
        "event_data": Jsonb({"From": params.from_number, "To": params.to_number}),
        "event_key": f"{params.call_sid}:incoming"[:200],
    }
    for field in fields:
        arguments[field.attname] = field.get_db_prep_save(_value(field, values, now), connection)
    for field in contact_fields:
        value = _value(field, contact, now)
        arguments[f"contact__{field.attname}"] = field.get_db_prep_save(value, connection)
    if clash := arguments.keys() & (read_params.keys() | guard_params.keys()):
        raise ValueError(f"The read's or guard's parameters clash with the call's: {sorted(clash)}")
    with connection.cursor() as cursor:
        cursor.execute(sql, {**arguments, **read_params, **guard_params})
        row = cursor.fetchone()
    if not row[-1]:
        return None, False, None
    if row[0] is None:
        return Call.objects.get(call_sid=params.call_sid), False, None
    call = Call.from_db("default", _CALL_ATTNAMES, row[:-3])
    contact_row = row[-3]
    if contact_row is not None:  # the flow reads the card (VIP first): hand it over already loaded
        fields = Contact._meta.concrete_fields
        contact = Contact.from_db(
            "default", [f.attname for f in fields], [f.to_python(contact_row[f.column]) for f in fields]
        )
        Call.contact.field.set_cached_value(call, contact)
    return call, True, row[-2]


# The columns ``start_inbound`` fills for each call; every other column takes its model default.
CALL_VALUES = frozenset({"call_sid", "direction", "from_number", "to_number", "status", "started_at"})
CONTACT_VALUES = frozenset({"phone"})


# The columns the statement returns, in this order (Django's loader takes the model's order).
_CALL_ATTNAMES = [f.attname for f in Call._meta.concrete_fields]


def _stamped(field: Any) -> bool:
    return bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))


def _value(field: Any, given: dict[str, Any], now: dt.datetime) -> Any:
    """What ``save()`` would write: the given value, the time for an auto-stamped field, else the default."""
    if field.attname in given:
        return given[field.attname]
    return now if _stamped(field) else field.get_default()


def _literal(field: Any) -> str | None:
    """The field's default as an SQL literal when it is a constant of a plain type, else None."""
    if _stamped(field) or (field.has_default() and callable(field.default)):
        return None  # a fresh value each time (``dict``, ``timezone.now``): a parameter
    value = field.get_db_prep_save(field.get_default(), connection)
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return None


@functools.cache
def _start_inbound_sql(read: str, guard: str) -> tuple[str, list, list]:
    """The statement of ``start_inbound`` (then ``read``'s value and ``guard``'s), with every
    column of the contact and the call from the models' own fields and defaults (so a new field
    needs no change here), and the fields it takes as parameters: the ones given per call, and
    defaults that are not constants. Constant defaults are written into the statement (adapting
    some 40 parameters per call cost more than the rest of the call's Python)."""

    def values(fields: list, given: frozenset[str], prefix: str) -> tuple[str, list]:
        """The VALUES of ``fields`` (a literal or a placeholder each) and those taken as parameters."""
        sql, parameters = [], []
        for field in fields:
            literal = None if field.attname in given else _literal(field)
            sql.append(literal if literal is not None else f"%({prefix}{field.attname})s")
            if literal is None:
                parameters.append(field)
        return ", ".join(sql), parameters

    fields = [f for f in Call._meta.concrete_fields if not f.primary_key and f.attname != "contact_id"]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    placeholders, parameters = values(fields, CALL_VALUES, "")
    contact_fields = [f for f in Contact._meta.concrete_fields if not f.primary_key]
    contact_values, contact_parameters = values(contact_fields, CONTACT_VALUES, "contact__")
    returned = ", ".join(f'new_call."{f.column}"' for f in Call._meta.concrete_fields)
    sql = f"""
WITH guard AS (
    SELECT {guard} AS holds
), new_contact AS (
    INSERT INTO calls_contact ({", ".join(f'"{f.column}"' for f in contact_fields)})
    SELECT {contact_values}
    WHERE %(phone)s ~ %(phone_pattern)s AND (SELECT holds FROM guard)
    ON CONFLICT (phone) DO NOTHING
    RETURNING *
), contact AS (
    SELECT * FROM new_contact
    UNION ALL
    SELECT * FROM calls_contact WHERE phone = %(phone)s AND %(phone)s ~ %(phone_pattern)s
    LIMIT 1
), new_call AS (
    INSERT INTO calls_call ({columns}, "contact_id")
    SELECT {placeholders}, (SELECT id FROM contact) WHERE (SELECT holds FROM guard)
    ON CONFLICT (call_sid) DO NOTHING
    RETURNING *
), event AS (
    INSERT INTO calls_callevent (call_id, at, kind, data, dedupe_key)
    SELECT id, %(event_at)s, 'incoming', %(event_data)s, %(event_key)s FROM new_call
)
SELECT {returned}, (SELECT row_to_json(contact) FROM contact), {read}, (SELECT holds FROM guard)
FROM (SELECT 1) AS one LEFT JOIN new_call ON TRUE
"""  # noqa: S608 (names come from the models, values are parameters or constant defaults)
    return sql, parameters, contact_parameters


def set_outcome(call: Call, outcome: str, *, at: dt.datetime | None = None, **data: Any) -> bool:
    """Give the call its one outcome; a second attempt changes nothing and returns False."""
    at = at or timezone.now()
    updated = Call.objects.filter(pk=call.pk, outcome="").update(outcome=outcome, outcome_at=at)
    if updated:
        from reporting.webhooks import emit_call_completed

        call.outcome, call.outcome_at = outcome, at
        add_event(call, "outcome", dedupe=f"outcome:{outcome}", at=at, outcome=outcome, **data)
        emit_call_completed(call.pk, call.call_sid)  # after commit: the client's webhooks, if any
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


def finish(call: Call, *, now: dt.datetime, duration: int | None, failed: bool) -> None:
    """The caller's leg ended: close the timings and give the call its outcome if it has none yet."""
    from telephony.calls import flows

    held_since = hold_started(call)
    if held_since is not None:  # the caller hung up while on hold: that time counts as hold (AHT)
        seconds = max(0, int((now - held_since).total_seconds()))
        call.hold_seconds = (call.hold_seconds or 0) + seconds
        add_event(call, "unhold", at=now, seconds=seconds, by="hang-up")
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
