"""The evidence behind every call record: each signed Twilio webhook kept as received, and a replay
that rebuilds what Twilio told us of each call from it and lists where the records differ.

``keep`` runs in the company's schema right after the signature was checked (the views' entry
points), before anything is done with the request: one ``INSERT … ON CONFLICT DO NOTHING`` keyed
by Twilio's ``I-Twilio-Idempotency-Token`` (a retry of the same webhook is kept once; without the
header, the hash of the URL and the parameters stands in for it).

What the replay rebuilds of a call, from its webhooks in the order received (the call's *Twilio
facts*; the rest of a record, queue and operator, follows from the platform's own decisions and is
in its events):
- that it exists, its ``from_number`` / ``to_number`` (the first webhook's ``From`` / ``To``);
- ``status``: the furthest status its status callbacks reached (they never move a call back);
- ``duration_seconds``: the terminal status callback's ``CallDuration``;
- ``recording_sid`` / ``recording_seconds``: the last completed recording callback;
- ``started_at`` (inbound: the incoming webhook) and ``ended_at`` (the terminal status callback):
  when they were received, within ``CLOCK_TOLERANCE`` (the record is written moments later).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from telephony.calls import sql
from telephony.calls.models import Call, WebhookEvidence
from telephony.calls.records import STATUS_RANK, TERMINAL, EventNote, call_row, note_params
from telephony.signatures import public_url, twilio_fields

IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
CLOCK_TOLERANCE = dt.timedelta(seconds=2)


def idempotency_key(request: HttpRequest) -> str:
    """Twilio's idempotency token, else a hash of the signed URL and every parameter."""
    token = request.headers.get(IDEMPOTENCY_HEADER, "")
    if token:
        return token[:128]
    body = json.dumps([public_url(request), sorted(twilio_fields(request).lists())])
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


# Raw, as the call events are (``calls.sql.INSERT_EVENT_ONCE``): every webhook runs it, and the
# ORM's insert would cost more to compile than the statement costs to run.
KEEP_ONCE = """
INSERT INTO calls_webhookevidence (received_at, call_sid, url, params, signature, idempotency_key)
VALUES (%(received_at)s, %(call_sid)s, %(url)s, %(params)s, %(signature)s, %(key)s)
ON CONFLICT DO NOTHING
"""
PARAMS = WebhookEvidence._meta.get_field("params")


def row(request: HttpRequest, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The values ``KEEP_ONCE`` writes for this webhook (also written by the incoming-call
    webhook's own statement, ``calls.sql.START_INBOUND``)."""
    fields = twilio_fields(request)  # a GET-configured webhook's are in its query string
    params = {key: values[0] if len(values) == 1 else values for key, values in fields.lists()}
    return {
        "received_at": now or timezone.now(),
        "call_sid": fields.get("CallSid", "")[:64],
        "url": public_url(request),
        "params": PARAMS.get_db_prep_value(params, connection),
        "signature": request.headers.get("X-Twilio-Signature", "")[:128],
        "key": idempotency_key(request),
    }


def keep(request: HttpRequest, *, now: dt.datetime | None = None) -> None:
    """Keep this signed webhook in the current company's schema, once per idempotency key."""
    with connection.cursor() as cursor:
        cursor.execute(KEEP_ONCE, row(request, now=now))


# A conference callback's: the call it names read whole, the webhook kept and its event recorded
# once (``calls.sql.noted``, keyed as ``records.dedupe_key``), in one statement instead
# of three (four such callbacks a call). Nothing is written for a call that is not there.
KEEP_NOTING = f"""
WITH call AS (
    SELECT * FROM calls_call WHERE id = %(call)s
), kept AS (
    INSERT INTO calls_webhookevidence (received_at, call_sid, url, params, signature, idempotency_key)
    SELECT %(received_at)s, %(call_sid)s, %(url)s, %(params)s, %(signature)s, %(key)s
    WHERE EXISTS (SELECT 1 FROM call)
    ON CONFLICT DO NOTHING
), {sql.noted("call", key=sql.EVENT_KEY)}
SELECT * FROM call
"""  # noqa: S608 (constant text; every value is a parameter)


def keep_noting(request: HttpRequest, *, call_id: int, note: EventNote) -> Call | None:
    """The call ``call_id`` (every field), with this signed webhook kept (``keep``) and the call's
    event ``note`` recorded once (as ``records.add_event``); None, and nothing written, when the
    current company has no such call."""
    values = row(request)
    return call_row(KEEP_NOTING, {**values, "call": call_id, **note_params(note, at=values["received_at"])})


def purge(*, before: dt.datetime) -> int:
    """Drop the webhooks received before ``before`` (the contract's retention has passed)."""
    deleted, _ = WebhookEvidence.objects.filter(received_at__lt=before).delete()
    return deleted


def for_calls(call_sids: Iterable[str]) -> list[WebhookEvidence]:
    """The webhooks kept for these calls, in the order received."""
    return list(WebhookEvidence.objects.filter(call_sid__in=list(call_sids)).order_by("received_at", "pk"))


@dataclass(frozen=True)
class Difference:
    call_sid: str
    field: str
    recorded: object
    evidence: object

    def __str__(self) -> str:
        return f"{self.call_sid} {self.field}: recorded {self.recorded!r}, the webhooks say {self.evidence!r}"


@dataclass(frozen=True)
class Replay:
    calls: int
    webhooks: int
    differences: list[Difference]


def _path(url: str) -> str:
    return url.split("?", 1)[0].rstrip("/")


def facts(webhooks: list[WebhookEvidence]) -> dict[str, Any]:
    """What one call's webhooks (in the order received) say of it (see the module docstring)."""
    first = webhooks[0].params
    result: dict[str, Any] = {
        "from_number": first.get("From", ""),
        "to_number": first.get("To", ""),
        "started_at": None,
        "ended_at": None,
    }
    status, rank = None, -1
    for hook in webhooks:
        path, params = _path(hook.url), hook.params
        if path.endswith("/incoming") and result["started_at"] is None:
            result["started_at"] = hook.received_at
        if path.endswith("/status") and params.get("CallStatus") in STATUS_RANK:
            new = params["CallStatus"]
            if status not in TERMINAL and STATUS_RANK[new] > rank:
                status, rank = new, STATUS_RANK[new]
                if new in TERMINAL:
                    result["ended_at"] = hook.received_at
                    duration = str(params.get("CallDuration", ""))
                    result["duration_seconds"] = int(duration) if duration.isdigit() else None
        if path.endswith("/recording") and params.get("RecordingStatus", "completed") == "completed":
            seconds = str(params.get("RecordingDuration", ""))
            result["recording_sid"] = str(params.get("RecordingSid", ""))[:64]
            result["recording_seconds"] = int(seconds) if seconds.isdigit() else None
    if status is not None:
        result["status"] = status
    return result


def compare(call: Call, said: dict[str, Any]) -> list[Difference]:
    """Where the call record differs from what its webhooks say."""
    differences = []
    for field, value in said.items():
        recorded = getattr(call, field)
        if isinstance(value, dt.datetime) or field in ("started_at", "ended_at"):
            if value is None:
                continue  # not told by a webhook (an outbound call's start is ours)
            if recorded is None or abs(recorded - value) > CLOCK_TOLERANCE:
                differences.append(Difference(call.call_sid, field, recorded, value))
        elif recorded != value:
            differences.append(Difference(call.call_sid, field, recorded, value))
    return differences


def replay(*, start: dt.datetime, end: dt.datetime) -> Replay:
    """The calls started in [start, end) and the webhooks received in it, checked against each other."""
    calls = {c.call_sid: c for c in Call.objects.filter(started_at__gte=start, started_at__lt=end)}
    sids = set(calls) | set(
        WebhookEvidence.objects.filter(received_at__gte=start, received_at__lt=end)
        .exclude(call_sid="")
        .values_list("call_sid", flat=True)
    )
    by_call: dict[str, list[WebhookEvidence]] = {}
    for hook in for_calls(sids):
        by_call.setdefault(hook.call_sid, []).append(hook)
    missing = sids - set(calls)
    if missing:  # webhooks of the day about calls started before it
        calls |= {c.call_sid: c for c in Call.objects.filter(Q(call_sid__in=missing))}
    differences: list[Difference] = []
    for sid in sorted(sids):
        call, hooks = calls.get(sid), by_call.get(sid, [])
        if call is None:
            differences.append(Difference(sid, "record", None, f"{len(hooks)} webhooks"))
        elif not hooks:
            differences.append(Difference(sid, "webhooks", "a call record", None))
        else:
            differences.extend(compare(call, facts(hooks)))
    return Replay(calls=len(sids), webhooks=sum(len(h) for h in by_call.values()), differences=differences)
