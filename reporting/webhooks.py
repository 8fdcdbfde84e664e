"""Outgoing event webhooks: a client company's systems hear about its calls and invoices.

This module manages endpoints and records events (once each) with a delivery per subscribed
endpoint; ``reporting.webhook_delivery`` signs and sends them. Everything runs in the current
client company's schema.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from config import change_versions
from config.process_cache import ProcessCache
from config.queries import one
from reporting import outgoing_http
from reporting.billing_models import Invoice
from reporting.webhook_delivery import enqueue_on_commit, https_required
from reporting.webhook_models import (
    TEST_EVENT,
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from telephony.calls.models import Call
from tenants.models import Client
from tenants.money import amount

log = logging.getLogger(__name__)


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def check_url(url: str) -> str:
    """A URL we may post to: https in production (http too in development and test), whose host
    resolves, to public addresses only (``reporting.outgoing_http``'s rules, in every environment)."""
    url = (url or "").strip()
    schemes = ["https"] if https_required() else ["https", "http"]
    try:
        URLValidator(schemes=schemes)(url)
    except ValidationError:
        raise ValidationError(
            "Enter an https:// URL." if https_required() else "Enter an http:// or https:// URL."
        ) from None
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        raise ValidationError("Put no user name or password in the URL; check our signature instead.")
    try:
        outgoing_http.check_destination(url)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    return url


def check_events(events: list[str]) -> list[str]:
    chosen = sorted(set(events))
    if not chosen or any(e not in EventType.values for e in chosen):
        raise ValidationError(f"Choose one or more of: {', '.join(EventType.values)}.")
    return chosen


@transaction.atomic
def endpoint_create(
    *, url: str, events: list[str], description: str = "", by: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (returned this once for the page to show)."""
    secret = new_secret()
    endpoint = WebhookEndpoint.objects.create(
        url=check_url(url),
        events=check_events(events),
        description=description[:200],
        secret=secret,
        created_by_name=by[:150],
    )
    return endpoint, secret


@transaction.atomic
def endpoint_update(
    *, endpoint: WebhookEndpoint, url: str, events: list[str], description: str, active: bool
) -> WebhookEndpoint:
    endpoint.url = check_url(url)
    endpoint.events = check_events(events)
    endpoint.description = description[:200]
    endpoint.active = active
    endpoint.save(update_fields=["url", "events", "description", "active"])
    return endpoint


ROTATION_OVERLAP = dt.timedelta(hours=24)


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, keep_old: bool = True) -> str:
    """A new secret from now on (returned once). With ``keep_old`` the old one also signs for
    ``ROTATION_OVERLAP`` (a second ``v1=``), so the receiver can switch without refusing events;
    without it (a leaked secret) the old one stops at once."""
    now = timezone.now()
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.previous_secret = endpoint.secret if keep_old else ""
    endpoint.previous_secret_until = now + ROTATION_OVERLAP if keep_old else None
    endpoint.secret = new_secret()
    endpoint.secret_rotated_at = now
    endpoint.save(update_fields=["secret", "secret_rotated_at", "previous_secret", "previous_secret_until"])
    return endpoint.secret


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def _require_tenant() -> None:
    if connection.schema_name == "public":
        raise RuntimeError("webhooks belong to a client company: use them inside its schema")


def _listened(schema: str) -> frozenset[str]:
    """The event types ``schema``'s active endpoints listen to (read in that schema)."""
    if schema != connection.schema_name:
        raise ValueError(f"The endpoints of {schema} are read in its schema, not {connection.schema_name}.")
    listened: set[str] = set()
    for events in WebhookEndpoint.objects.filter(active=True).values_list("events", flat=True):
        listened.update(events)
    return frozenset(listened)


ENDPOINT_VERSIONS = change_versions.PerSchema("webhook-endpoints-version")


# What a company's endpoints listen to, kept in each process until they change (issue 23): every
# call's end asks whether anyone listens to ``call.completed``, and most companies listen to no
# event of their calls. Each save or delete of an endpoint bumps the company's version in Redis as
# it commits (``note_endpoints_change``), and every process reads it again at its next event; kept
# 5 minutes at most besides, read at every event while Redis is away. Only ever used to skip the
# read of the endpoints: an event someone listens to reads them as they are (``emit``).
LISTENED: ProcessCache[str, frozenset[str]] = ProcessCache(
    ttl=300.0,
    load_one=_listened,
    version=ENDPOINT_VERSIONS.current,
).invalidate_on_save(WebhookEndpoint)


def note_endpoints_change(sender: type, instance: WebhookEndpoint, **kwargs: Any) -> None:
    """``post_save``/``post_delete`` receiver of ``WebhookEndpoint`` (connected in
    ``ReportingConfig.ready``): the company's endpoints version is bumped once the change commits."""
    if not kwargs.get("raw"):
        ENDPOINT_VERSIONS.bump_on_commit(connection.schema_name)


def emit(
    *,
    type: str,
    data: dict[str, Any] | Callable[[], dict[str, Any] | None],
    dedupe_key: str,
    now: dt.datetime | None = None,
) -> WebhookEvent | None:
    """Record an event once and a delivery for each active endpoint subscribed to it.

    Nothing is written when nobody listens. A second call with the same ``dedupe_key`` adds no
    event and no delivery. Deliveries are sent after the transaction commits. ``data`` may be a
    function that reads it: called only when someone listens (most companies listen to no event
    of most calls); when it returns None, nothing is emitted.
    """
    _require_tenant()
    if type not in (LISTENED.get(connection.schema_name) or ()):
        return None
    endpoints = list(WebhookEndpoint.objects.filter(active=True, events__contains=[type]))
    if not endpoints:
        return None
    if callable(data):
        data = data()
        if data is None:
            return None
    with transaction.atomic():
        event, created = WebhookEvent.objects.get_or_create(
            dedupe_key=dedupe_key[:200],
            defaults={"type": type, "created": now or timezone.now(), "data": data},
        )
        if not created:
            return event
        deliveries = WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(event=event, endpoint=endpoint, next_attempt_at=event.created)
                for endpoint in endpoints
            ]
        )
        enqueue_on_commit([d.pk for d in deliveries])
    return event


def emit_on_commit(*, type: str, dedupe_key: str, data: Callable[[], dict[str, Any] | None]) -> None:
    """Emit after the current transaction commits, in this client company's schema.

    ``data`` is called then, and only when an endpoint listens (``emit``), so it reads the
    committed rows; returning None emits nothing. A failure is logged, never raised into the code
    that made the change (``robust``).
    """
    tenant = connection.tenant
    if connection.schema_name == "public":
        return

    def send() -> None:
        with tenant_context(tenant):
            emit(type=type, data=data, dedupe_key=dedupe_key)

    transaction.on_commit(send, robust=True)


@transaction.atomic
def send_test(*, endpoint: WebhookEndpoint, by: str = "") -> WebhookDelivery:
    """A ``webhook.test`` event to this endpoint alone (active or not), sent after commit."""
    _require_tenant()
    now = timezone.now()
    event = WebhookEvent.objects.create(
        type=TEST_EVENT,
        created=now,
        data={"message": "A test event from your contact center.", "sent_by": by},
        dedupe_key=f"test:{uuid.uuid4()}",
    )
    delivery = WebhookDelivery.objects.create(event=event, endpoint=endpoint, next_attempt_at=now)
    enqueue_on_commit([delivery.pk])
    return delivery


@transaction.atomic
def delivery_retry(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Try a failed delivery again now (one more attempt, or the usual retries if it never ran out)."""
    updated = WebhookDelivery.objects.filter(pk=delivery.pk, state=WebhookDelivery.State.FAILED).update(
        state=WebhookDelivery.State.PENDING,
        next_attempt_at=timezone.now(),
        finished_at=None,
        leased_until=None,
    )
    if not updated:
        raise ValidationError("Only a failed delivery can be sent again.")
    enqueue_on_commit([delivery.pk])
    delivery.refresh_from_db()
    return delivery


def call_completed_data(call_id: int) -> dict[str, Any] | None:
    """The ``data`` of ``call.completed``: the call record as it stands after its outcome."""
    call = one(Call.objects.filter(pk=call_id))
    if call is None or not call.outcome:
        return None

    def iso(value: dt.datetime | None) -> str | None:
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None

    return {
        "call_sid": call.call_sid,
        "direction": call.direction,
        "from": call.from_number,
        "to": call.to_number,
        "queue": call.queue_name,
        "outcome": call.outcome,
        "started_at": iso(call.started_at),
        "queued_at": iso(call.queued_at),
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
        "outcome_at": iso(call.outcome_at),
        "wait_seconds": call.wait_seconds,
        "talk_seconds": call.talk_seconds,
        "hold_seconds": call.hold_seconds,
        "disposition": call.disposition,
        "transferred_to": call.transferred_to,
    }


def on_call_completed(
    sender: object, *, call_id: int, call_sid: str, tenant: Client | None = None, **kwargs: Any
) -> None:
    """Receiver of ``telephony.events.call_completed``: the ``call.completed`` event, once per call.

    The signal comes after the commit that gave the call its outcome, inside its company's schema,
    so the event is emitted at once. A failure is logged here and goes no further: the call keeps
    its outcome (the signal is sent with ``send_robust``).
    """
    if tenant is None:
        return
    try:
        emit(
            type=EventType.CALL_COMPLETED,
            data=lambda: call_completed_data(call_id),
            dedupe_key=f"call.completed:{call_sid}",
        )
    except Exception:
        log.exception("call.completed of %s: the webhook event could not be recorded", call_sid)


def invoice_issued_data(invoice_id: int) -> dict[str, Any] | None:
    invoice = Invoice.objects.filter(pk=invoice_id).exclude(state=Invoice.State.DRAFT).first()
    if invoice is None:
        return None
    return {
        "number": invoice.number,
        "period_start": invoice.period_start.isoformat(),
        "period_end": invoice.period_end.isoformat(),
        "currency": invoice.currency,
        "subtotal": str(amount(invoice.subtotal, invoice.currency)),
        "tax_percent": None if invoice.tax_percent is None else str(invoice.tax_percent),  # None: several
        "taxes": [
            {
                "percent": row["percent"],
                "net": str(amount(row["net"], invoice.currency)),
                "tax": str(amount(row["tax"], invoice.currency)),
                "reverse_charge": row["reverse_charge"],
                "client_vat_id": row["client_vat_id"],
            }
            for row in invoice.taxes
        ],
        "tax": str(amount(invoice.tax, invoice.currency)),
        "total": str(amount(invoice.total, invoice.currency)),
        "issued_at": invoice.issued_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "pdf_sha256": invoice.pdf_sha256,
    }


def emit_invoice_issued(invoice_id: int, number: str) -> None:
    emit_on_commit(
        type=EventType.INVOICE_ISSUED,
        dedupe_key=f"invoice.issued:{number}",
        data=lambda: invoice_issued_data(invoice_id),
    )
