"""The evidence behind an invoice line: the calls it counts (``billing.line_calls``), each call's
events and the Twilio webhooks kept for it as received (``telephony.evidence``).

Downloads stream in chunks of calls (a line may count many thousands); times are ISO 8601 in UTC
with the company's local time beside them in the JSON.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django_tenants.utils import tenant_context

from reporting import billing, stats
from reporting.billing_models import InvoiceLine
from reporting.exports import csv_cell
from telephony import evidence
from telephony.calls.models import Call, CallEvent
from tenants.money import amount, price

CHUNK = 500
ENCODER = DjangoJSONEncoder
CALL_FIELDS = (
    "call_sid", "direction", "from_number", "to_number", "started_at", "queued_at", "answered_at",
    "ended_at", "outcome", "queue_name", "wait_seconds", "talk_seconds", "hold_seconds",
    "wrapup_seconds", "duration_seconds", "recording_seconds", "transferred_to",
)  # fmt: skip
WEBHOOK_HEADER = ["call_sid", "received_at", "url", "signature", "idempotency_key", "params"]


def calls_of(line: InvoiceLine) -> QuerySet[Call]:
    """The calls the line counts, in the order they started."""
    return billing.line_calls(line).order_by("started_at", "pk")


def _chunks(line: InvoiceLine) -> Iterator[list[Call]]:
    ids = list(calls_of(line).values_list("pk", flat=True))
    for i in range(0, len(ids), CHUNK):
        yield list(Call.objects.filter(pk__in=ids[i : i + CHUNK]).order_by("started_at", "pk"))


def line_summary(line: InvoiceLine) -> dict[str, Any]:
    return {
        "invoice": line.invoice.number,
        "position": line.position,
        "service_code": line.service_code,
        "description": line.description,
        "quantity": line.quantity,
        "unit_price": price(line.unit_price, line.invoice.currency),
        "amount": amount(line.amount, line.invoice.currency),
        "call_count": line.call_count,
        "billed_seconds": line.billed_seconds,
        "period_start": line.period_start,
        "period_end": line.period_end,
        "time_zone": str(stats.local_zone()),
    }


def _webhook_json(hook: Any) -> dict[str, Any]:
    return {
        "received_at": hook.received_at,
        "url": hook.url,
        "signature": hook.signature,
        "idempotency_key": hook.idempotency_key,
        "params": hook.params,
    }


def _call_json(call: Call, events: list[CallEvent], webhooks: list[Any]) -> dict[str, Any]:
    return {
        **{name: getattr(call, name) for name in CALL_FIELDS},
        "events": [{"at": e.at, "kind": e.kind, "data": e.data} for e in events],
        "webhooks": [_webhook_json(w) for w in webhooks],
    }


def json_chunks(line: InvoiceLine) -> Iterator[str]:
    """``{"line": …, "calls": [{…, "events": […], "webhooks": […]}, …]}``, a chunk of calls at a time."""
    yield '{"line": ' + json.dumps(line_summary(line), cls=DjangoJSONEncoder) + ', "calls": ['
    first = True
    for calls in _chunks(line):
        events: dict[int, list[CallEvent]] = {}
        for event in CallEvent.objects.filter(call__in=calls).order_by("at", "pk"):
            events.setdefault(event.call_id, []).append(event)
        webhooks: dict[str, list[Any]] = {}
        for hook in evidence.for_calls(c.call_sid for c in calls):
            webhooks.setdefault(hook.call_sid, []).append(hook)
        parts = [
            json.dumps(_call_json(c, events.get(c.pk, []), webhooks.get(c.call_sid, [])), cls=ENCODER)
            for c in calls
        ]
        yield ("" if first else ", ") + ", ".join(parts)
        first = False
    yield "]}\n"


def csv_chunks(line: InvoiceLine) -> Iterator[str]:
    """One row per webhook kept for the line's calls, as received (parameters as JSON). A cell a
    spreadsheet would run as a formula gets a leading apostrophe (``exports.csv_cell``); the JSON
    download is the exact one."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(WEBHOOK_HEADER)
    for calls in _chunks(line):
        for hook in evidence.for_calls(c.call_sid for c in calls):
            row = [hook.call_sid, hook.received_at.isoformat(), hook.url, hook.signature,
                   hook.idempotency_key, json.dumps(hook.params, sort_keys=True)]  # fmt: skip
            writer.writerow([csv_cell(v) for v in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def download(*, tenant: object, line_id: int, fmt: str, filename: str) -> StreamingHttpResponse:
    """The line's evidence as a streamed JSON or CSV attachment, read inside the company's schema."""

    def chunks() -> Iterator[str]:
        with tenant_context(tenant):
            line = InvoiceLine.objects.select_related("invoice").get(pk=line_id)
            yield from (json_chunks(line) if fmt == "json" else csv_chunks(line))

    content_type = "application/json" if fmt == "json" else "text/csv; charset=utf-8"
    response = StreamingHttpResponse(chunks(), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response
