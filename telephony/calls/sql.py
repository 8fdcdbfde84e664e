"""The call records' raw SQL: what the ORM cannot say in one statement, and the reads of a call's
row that every call makes, where the ORM's building of the query costs more than running it.

Values are parameters; run through Django's cursor (query counts and monitoring see it).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, NamedTuple

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model

from telephony.calls.models import Call, Contact
from tenants import work

# A call's whole row, by its id or (locked for the transaction) by its CallSid: each of a call's
# webhooks loads it, and the ORM's building of a 36-column select costs more CPU than running it
# (685 against 397 µs a load on the bench's box, issue 23). Read through ``Call.objects.raw``: the
# same model instance with every column (``*`` follows the fields a migration adds).
CALL_BY_ID = "SELECT * FROM calls_call WHERE id = %s"
CALL_BY_SID = "SELECT * FROM calls_call WHERE call_sid = %s"
# ``records.event_key`` in SQL, over a row of the call (its ``call_sid``): the key of its event
# recorded once under ``%(dedupe)s``.
EVENT_KEY = "left(call_sid || ':' || %(dedupe)s, 200)"
# The status callback's: locked, with when the caller was put on hold if they are on hold now (the
# last of their hold and unhold events is a hold: ``held_since``, else NULL), in one statement.
CALL_BY_SID_LOCKED = """
SELECT c.*, held.at AS held_since FROM calls_call c
LEFT JOIN LATERAL (
    SELECT e.kind, e.at FROM calls_callevent e
    WHERE e.call_id = c.id AND e.kind IN ('hold', 'unhold') ORDER BY e.at DESC, e.id DESC LIMIT 1
) held ON held.kind = 'hold'
WHERE c.call_sid = %(call_sid)s
FOR UPDATE OF c
"""


def noted(rows: str, *, kind: str = "%(kind)s", key: str = "%(key)s") -> str:
    """The CTE ``noted``: the event of each call of the CTE ``rows`` (its ``id``) recorded once per
    key (as ``INSERT_EVENT_ONCE``), at ``%(at)s`` with ``%(data)s``."""
    return f"""noted AS (
    INSERT INTO calls_callevent (call_id, at, kind, data, dedupe_key)
    SELECT id, %(at)s, {kind}, %(data)s, {key} FROM {rows}
    ON CONFLICT (dedupe_key) DO NOTHING
)"""  # noqa: S608 (constant text; every value is a parameter)


# The same, with the callback's event recorded once (keyed as ``records.dedupe_key``) once the row
# is locked: one round trip, not two.
CALL_BY_SID_LOCKED_NOTING = f"""
WITH call AS ({CALL_BY_SID_LOCKED}
), {noted("call", key=EVENT_KEY)}
SELECT * FROM call
"""  # noqa: S608 (constant text; every value is a parameter)

# An event recorded once per dedupe key: a replayed webhook records nothing (no savepoint needed).
INSERT_EVENT_ONCE = """
INSERT INTO calls_callevent (call_id, at, kind, data, dedupe_key)
VALUES (%(call)s, %(at)s, %(kind)s, %(data)s, %(key)s)
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id
"""


def _with_event(update: str, kind: str) -> str:
    """``update`` (of one call, by ``%(call)s``) and, when it changed the row, the call's ``kind``
    event (once per key): one round trip. Selects the count of rows changed."""
    return f"""
WITH changed AS ({update} RETURNING id
), {noted("changed", kind=f"'{kind}'")}
SELECT count(*) FROM changed
"""  # noqa: S608 (constant text; every value is a parameter)


# The call marked queued (once: of two requests at once, the one that updates the row wins, the other
# waits for its lock and then finds it queued) with its "queued" event. 0 when queued already.
MARK_QUEUED = _with_event(
    """UPDATE calls_call SET queued_at = %(at)s, queue_id = %(queue)s, queue_name = %(queue_name)s
    WHERE id = %(call)s AND queued_at IS NULL""",
    "queued",
)

# The call's one outcome (a second attempt changes nothing) with its "outcome" event. 0 when the
# call had an outcome already.
SET_OUTCOME = _with_event(
    """UPDATE calls_call SET outcome = %(outcome)s, outcome_at = %(at)s
    WHERE id = %(call)s AND outcome = ''""",
    "outcome",
)

# Who took the call, written into its record as the accept commits (not over an answer already
# written: a late accept must not rename who answered), with its "accepted" event (once per key):
# one round trip, not a read of the call and a transaction of two writes. The count of calls of
# that sid in this company's schema: 0 when it has none.
MARK_ACCEPTED = """
WITH taken AS (
    SELECT id FROM calls_call WHERE call_sid = %(call_sid)s
), marked AS (
    UPDATE calls_call c
    SET offered_at = %(offered_at)s, operator_id = %(operator_id)s, operator_name = %(operator_name)s
    FROM taken WHERE c.id = taken.id AND c.answered_at IS NULL
), noted AS (
    INSERT INTO calls_callevent (call_id, at, kind, data, dedupe_key)
    SELECT id, %(at)s, 'accepted', %(data)s, %(key)s FROM taken
    ON CONFLICT (dedupe_key) DO NOTHING
)
SELECT count(*) FROM taken
"""

# The call answered by the operator whose leg joined (once: a replayed join finds it answered and
# writes nothing), with the answer's time on its call in line and its "bridged" event (once per
# key): one round trip. The count of calls answered now: 0 when it was answered already.
MARK_ANSWERED = """
WITH answered AS (
    UPDATE calls_call
    SET answered_at = %(at)s, offered_at = %(offered_at)s, operator_id = %(operator_id)s,
        operator_name = %(operator_name)s, wait_seconds = %(wait_seconds)s
    WHERE id = %(call)s AND answered_at IS NULL
    RETURNING id
), in_line AS (
    UPDATE telephony_waitingcall SET answered_at = %(at)s
    WHERE id = %(waiting)s AND EXISTS (SELECT 1 FROM answered)
), noted AS (
    INSERT INTO calls_callevent (call_id, at, kind, data, dedupe_key)
    SELECT id, %(at)s, 'bridged', %(data)s, %(key)s FROM answered
    ON CONFLICT (dedupe_key) DO NOTHING
)
SELECT count(*) FROM answered
"""


def _columns(fields: list[Field], prefix: str = "") -> str:
    return ", ".join(f'{prefix}"{field.column}"' for field in fields)


# Column lists from the models, so the statement follows the fields a migration adds. The values of
# a new row go as one JSON object per table (``row_json``), made a row of the table's type by
# PostgreSQL (``jsonb_populate_record``): two parameters instead of fifty.
CALL_FIELDS: list[Field] = list(Call._meta.concrete_fields)
CONTACT_FIELDS: list[Field] = list(Contact._meta.concrete_fields)
CALL_WRITTEN = [f for f in CALL_FIELDS if not f.primary_key and f.attname != "contact_id"]
CONTACT_WRITTEN = [f for f in CONTACT_FIELDS if not f.primary_key]

# The incoming-call webhook's record in one statement: the dialled number still belongs to the
# company (checked here, where it counts: the webhook may have found the company in its memory),
# with its state and the company's status as they are now; the caller's card, made on the first
# call from a valid number (``card`` not NULL); the call, once per CallSid (a replay writes
# nothing); its ``incoming`` event; the webhook kept as evidence (``telephony.evidence``, once per
# idempotency key, even on a replay; not when no ``evidence_key`` is given). No row: the number is
# no longer the company's (nothing written). A row without the call: a replay.
# A new call gives its company work for the reconciliation (``tenants.work``), due when the call
# would be stale if nothing moved it.
_MARK_CALLS = work.MARK.format(rows="SELECT %(tenant_id)s, 'calls', %(calls_due)s::timestamptz FROM new_call")
START_INBOUND = f"""
WITH line AS (
    SELECT n.state, c.status
    FROM telephony_phonenumber n JOIN tenants_client c ON c.id = n.tenant_id
    WHERE n.number = %(to_number)s AND n.tenant_id = %(tenant_id)s
), new_card AS (
    INSERT INTO calls_contact ({_columns(CONTACT_WRITTEN)})
    SELECT {_columns(CONTACT_WRITTEN, "r.")}
    FROM line, jsonb_populate_record(NULL::calls_contact, %(card)s::jsonb) AS r
    WHERE %(card)s::jsonb IS NOT NULL
    ON CONFLICT (phone) DO NOTHING
    RETURNING {_columns(CONTACT_FIELDS)}
), card AS (
    SELECT * FROM new_card
    UNION ALL
    SELECT {_columns(CONTACT_FIELDS)} FROM calls_contact WHERE phone = %(card)s::jsonb ->> 'phone'
    LIMIT 1
), new_call AS (
    INSERT INTO calls_call ({_columns(CALL_WRITTEN)}, contact_id)
    SELECT {_columns(CALL_WRITTEN, "r.")}, (SELECT id FROM card)
    FROM line, jsonb_populate_record(NULL::calls_call, %(call)s::jsonb) AS r
    ON CONFLICT (call_sid) DO NOTHING
    RETURNING {_columns(CALL_FIELDS)}
), new_event AS (
    INSERT INTO calls_callevent (call_id, at, kind, data, dedupe_key)
    SELECT id, %(event_at)s, %(event_kind)s, %(event_data)s, %(event_key)s FROM new_call
), evidence AS (
    INSERT INTO calls_webhookevidence (received_at, call_sid, url, params, signature, idempotency_key)
    SELECT %(evidence_received_at)s, %(evidence_call_sid)s, %(evidence_url)s, %(evidence_params)s,
           %(evidence_signature)s, %(evidence_key)s
    FROM line WHERE %(evidence_key)s::text IS NOT NULL
    ON CONFLICT DO NOTHING
), work AS ({_MARK_CALLS}
)
SELECT line.state, line.status, new_call.*, card.*
FROM line LEFT JOIN new_call ON TRUE LEFT JOIN card ON TRUE
"""  # noqa: S608 (column lists from the models; every value is a parameter)


class InboundRecord(NamedTuple):
    """What ``start_inbound``'s statement found: the number's state and its company's status now,
    and the call and card written (None for a replay, and when no card was made or found)."""

    number_state: str
    company_status: str
    call: Call | None
    contact: Contact | None


def _exact(value: object) -> str:
    """JSON for what ``json`` does not know: times in full (ISO 8601, microseconds, offset)."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)  # Decimal, UUID: their exact text


def row_json(instance: Model, fields: list[Field]) -> str:
    """``instance``'s values of ``fields`` as Django writes them on an INSERT (``pre_save``, then
    ``get_db_prep_save``), as one JSON object keyed by column."""
    wrapper = connections[DEFAULT_DB_ALIAS]  # the thread's own, looked up once (not per field)
    values = {
        field.column: field.get_db_prep_save(field.pre_save(instance, True), wrapper) for field in fields
    }
    return json.dumps(values, default=_exact)


EVIDENCE_VALUES = ("received_at", "call_sid", "url", "params", "signature", "key")


def start_inbound(
    *,
    call: Call,
    contact: Contact | None,
    tenant_id: int,
    event: dict[str, Any],
    evidence: dict[str, Any] | None = None,
) -> InboundRecord | None:
    """Run ``START_INBOUND`` for these unsaved rows (``event``: the incoming event's ``at``,
    ``kind``, ``data``, ``key``; ``evidence``: the webhook's row, ``telephony.evidence.row``);
    None when the dialled number is no longer ``tenant_id``'s."""
    parameters = {
        "to_number": call.to_number, "tenant_id": tenant_id,
        "call": row_json(call, CALL_WRITTEN),
        "card": row_json(contact, CONTACT_WRITTEN) if contact is not None else None,
        **{f"event_{key}": value for key, value in event.items()},
        "calls_due": event["at"] + dt.timedelta(seconds=settings.RECONCILE_WAITING_SECONDS),
        **{f"evidence_{key}": (evidence or {}).get(key) for key in EVIDENCE_VALUES},
    }  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(START_INBOUND, parameters)
        row = cursor.fetchone()
    if row is None:
        return None
    calls, cards = row[2 : 2 + len(CALL_FIELDS)], row[2 + len(CALL_FIELDS) :]
    return InboundRecord(
        number_state=row[0],
        company_status=row[1],
        call=Call.from_db(connection.alias, [f.attname for f in CALL_FIELDS], calls) if calls[0] else None,
        contact=Contact.from_db(connection.alias, [f.attname for f in CONTACT_FIELDS], cards)
        if cards[0]
        else None,
    )
