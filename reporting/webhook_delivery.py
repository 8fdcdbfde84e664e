"""Sending webhook deliveries: signing, the HTTP POST, retries with backoff, the attempt log.

Each POST carries the event as JSON (``id``, ``type``, ``created``, ``data``) and the headers
``X-CC-Event``, ``X-CC-Delivery`` (the same on every try), ``X-CC-Timestamp`` and
``X-CC-Signature: v1=<hex>``, the HMAC-SHA256 of ``"<timestamp>.<body>"`` with the endpoint's secret
(Stripe's scheme: the receiver recomputes it and refuses old timestamps); for a day after a
rotation a second ``v1=`` is signed with the old secret. A delivery is tried up to
``MAX_ATTEMPTS`` times with exponential backoff on network errors, 5xx and 429; any other answer
ends it. Redirects are not followed. Everything runs in the current client company's schema.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import json
import logging
import time

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import tenant_context

from config.celery import app
from reporting import outgoing_http
from reporting.webhook_models import (
    TEST_EVENT,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from tenants import work

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# A pending delivery this long past its attempt time lost its task: the sweeper sends it again.
OVERDUE_GRACE = dt.timedelta(minutes=2)
TIMEOUT_SECONDS = 10.0  # per connect and per read; the attempt is recorded as a network error after it
LEASE = dt.timedelta(seconds=60)  # longer than one attempt can take
MAX_BACKOFF_SECONDS = 3600  # stays far below the broker's visibility timeout (6 h)
USER_AGENT = "CC-Webhooks/1"
# The Celery task making one attempt (``reporting.tasks``, which imports this module): sent by name.
DELIVER_TASK = "reporting.tasks.deliver_webhook"


def backoff_seconds(attempts: int) -> int:
    """Wait before the next try after ``attempts`` failed ones: base·2^(n-1) (30 s, 1, 2, 4 … 32 min)."""
    base = int(getattr(settings, "WEBHOOK_RETRY_BASE_SECONDS", 30))
    return min(MAX_BACKOFF_SECONDS, base * 2 ** max(0, attempts - 1))


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<body>"``: what ``X-CC-Signature`` carries after ``v1=``."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def https_required() -> bool:
    return settings.DJANGO_ENV == "production"


def signature_header(*, endpoint: WebhookEndpoint, timestamp: int, body: bytes, now: dt.datetime) -> str:
    """``v1=<hex>``, then ``,v1=<hex>`` with the previous secret while it still signs."""
    header = f"v1={signature(secret=endpoint.secret, timestamp=timestamp, body=body)}"
    if endpoint.previous_secret and endpoint.previous_secret_until and now < endpoint.previous_secret_until:
        header += f",v1={signature(secret=endpoint.previous_secret, timestamp=timestamp, body=body)}"
    return header


def enqueue_on_commit(delivery_ids: list[int], *, countdown: float = 0) -> None:
    """Send the delivery tasks after commit, from inside this client company's schema.

    By the task's name: the tasks module is the entry point that imports this one, never the
    other way round (the tenant-aware app adds the schema header to ``send_task`` too).
    """
    tenant = connection.tenant
    if delivery_ids:  # a message lost, the sweep finds the delivery overdue (``tenants.work``)
        work.mark(work.Kind.WEBHOOKS, due_at=timezone.now() + OVERDUE_GRACE)

    def send() -> None:
        with tenant_context(tenant):
            for pk in delivery_ids:
                app.send_task(DELIVER_TASK, args=[pk], countdown=countdown)

    transaction.on_commit(send, robust=True)


def event_body(event: WebhookEvent) -> bytes:
    """The JSON posted for ``event``: the same bytes on every attempt."""
    document = {
        "id": event.public_id,
        "type": event.type,
        "created": event.created.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True, default=str).encode()


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
    """One POST through ``reporting.outgoing_http``: the host resolved once, every address checked
    (the same rules in every environment), the connection made to a checked address, no redirects,
    certificates verified for https."""
    response = outgoing_http.post(url, body, headers, timeout=TIMEOUT_SECONDS)
    return response.status, response.excerpt, response.headers


def _retry_after(headers: dict[str, str]) -> int:
    value = headers.get("retry-after", "")
    return min(MAX_BACKOFF_SECONDS, int(value)) if value.isdigit() else 0


def deliver(*, delivery_id: int, now: dt.datetime | None = None) -> WebhookDelivery | None:
    """Make the next attempt of a pending, due delivery; None when it is not ours to try now.

    A lease on the row makes a second worker (a duplicate or replayed task) skip it, so one
    delivery is never posted twice at once; the HTTP request runs outside any transaction.
    """
    if connection.schema_name == "public":
        raise RuntimeError("webhook deliveries belong to a client company: use them inside its schema")
    now = now or timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, state=WebhookDelivery.State.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .update(leased_until=now + LEASE)
    )
    if not claimed:
        log.info("webhook delivery %s: not pending, not due or leased; skipped", delivery_id)
        return None
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    endpoint, event = delivery.endpoint, delivery.event
    number = delivery.attempts + 1
    status: int | None = None
    error = ""
    excerpt = b""
    retry_after = 0
    started = time.monotonic()
    permanent = False
    if not endpoint.active and event.type != TEST_EVENT:
        error, permanent = "The endpoint is disabled.", True
    else:
        body = event_body(event)
        timestamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-CC-Event": event.type,
            "X-CC-Delivery": delivery.public_id,
            "X-CC-Timestamp": str(timestamp),
            "X-CC-Signature": signature_header(endpoint=endpoint, timestamp=timestamp, body=body, now=now),
        }
        try:
            status, excerpt, response_headers = _post(endpoint.url, body, headers)
            retry_after = _retry_after(response_headers)
        except (
            http.client.InvalidURL,
            ValueError,
        ) as exc:  # a URL we cannot send: trying again would not help
            error, permanent = f"{type(exc).__name__}: {exc}"[:300], True
        except outgoing_http.UnsafeAddress as exc:  # the name may point elsewhere later: tried again
            error = f"Refused: {exc}"[:300]
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timeout, TLS, bad reply
            error = f"{type(exc).__name__}: {exc}"[:300]
        except Exception as exc:  # anything else is ours to fix, not a reason to hammer the receiver
            error, permanent = f"{type(exc).__name__}: {exc}"[:300], True
    elapsed = int((time.monotonic() - started) * 1000)
    retryable = not permanent and (status is None or status == 429 or status >= 500)
    if status is not None and 200 <= status < 300:
        state = WebhookDelivery.State.DELIVERED
    elif retryable and number < MAX_ATTEMPTS:
        state = WebhookDelivery.State.PENDING
    else:
        state = WebhookDelivery.State.FAILED
    if status is not None and not 200 <= status < 300 and not error:
        error = f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
    wait = max(backoff_seconds(number), retry_after)
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=number,
            at=now,
            status_code=status,
            error=error,
            duration_ms=elapsed,
            response_excerpt=excerpt.decode("utf-8", "replace")[:500],
        )
        delivery.attempts = number
        delivery.state = state
        delivery.last_status_code = status
        delivery.last_error = error
        delivery.leased_until = None
        delivery.next_attempt_at = (
            now + dt.timedelta(seconds=wait) if state == WebhookDelivery.State.PENDING else None
        )
        delivery.finished_at = None if state == WebhookDelivery.State.PENDING else now
        delivery.save(
            update_fields=[
                "attempts",
                "state",
                "last_status_code",
                "last_error",
                "leased_until",
                "next_attempt_at",
                "finished_at",
            ]
        )
        if state == WebhookDelivery.State.PENDING:
            enqueue_on_commit([delivery.pk], countdown=wait)
    return delivery


def overdue_delivery_ids(*, now: dt.datetime | None = None, grace: dt.timedelta = OVERDUE_GRACE) -> list[int]:
    """Pending deliveries whose retry should have run by now (its task was lost): for the sweeper."""
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now - grace)
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .values_list("pk", flat=True)[:500]
    )


def pending_left() -> bool:
    """Whether this company has a delivery still pending (the sweeper looks at it each time)."""
    return WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING).exists()
