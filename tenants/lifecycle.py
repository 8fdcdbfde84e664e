"""A live client company's life: suspend, resume, close; and numbers back to the pool after closing.

Like onboarding, each function writes in one transaction with its audit event.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from telephony.models import PhoneNumber
from tenants.audit import record_event
from tenants.closing import export_keep
from tenants.exports import export_client_data
from tenants.models import Client
from tenants.onboarding import OnboardingError


def _client_transition(
    *, client: Client, by: User, allowed: set[str], to: str, action: str, **after: object
) -> Client:
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        if client.status not in allowed:
            raise OnboardingError(
                f"A {client.get_status_display().lower()} client company cannot be {action}."
            )
        before = client.status
        client.status = to
        client.save(update_fields=["status", "updated_at"])
        record_event(
            actor=by,
            action=f"client.{action}",
            obj=client,
            client=client,
            before={"status": before},
            after={"status": to, **after},
        )
    return client


MIN_REASON = 5


def check_reason(reason: str, what: str) -> str:
    """Suspending and closing say why (kept in the audit trail)."""
    reason = " ".join(reason.split())
    if len(reason) < MIN_REASON:
        raise OnboardingError(f"Say why the client company is {what} (at least {MIN_REASON} characters).")
    return reason[:500]


def client_suspend(*, client: Client, by: User, reason: str) -> Client:
    """Stop service, keep the data; its numbers stay assigned and answer with a polite message."""
    reason = check_reason(reason, "suspended")
    return _client_transition(
        client=client,
        by=by,
        allowed={Client.Status.ACTIVE},
        to=Client.Status.SUSPENDED,
        action="suspended",
        reason=reason,
    )


def client_resume(*, client: Client, by: User) -> Client:
    """Restore service of a suspended client company."""
    return _client_transition(
        client=client, by=by, allowed={Client.Status.SUSPENDED}, to=Client.Status.ACTIVE, action="resumed"
    )


def client_close(*, client: Client, by: User, reason: str, now: datetime.datetime | None = None) -> Path:
    """Close a client company: export its data (kept for the notice period, ``tenants.closing``), put
    its numbers in their grace period; its portal turns read-only. Returns the export's file."""
    reason = check_reason(reason, "closed")
    now = now or timezone.now()
    with transaction.atomic():
        locked = Client.objects.select_for_update().get(pk=client.pk)
        if locked.status not in (Client.Status.ACTIVE, Client.Status.SUSPENDED, Client.Status.PROSPECT):
            raise OnboardingError("This client company is already closed.")
        export = export_client_data(client=locked)
        kept = export_keep(client=locked, path=export, now=now)
        release_after = now + datetime.timedelta(days=settings.NUMBER_RELEASE_GRACE_DAYS)
        numbers = list(
            PhoneNumber.objects.select_for_update().filter(tenant=locked, state=PhoneNumber.State.ASSIGNED)
        )
        PhoneNumber.objects.filter(pk__in=[n.pk for n in numbers]).update(
            state=PhoneNumber.State.RELEASING, released_at=now, release_after=release_after
        )
        _client_transition(
            client=locked,
            by=by,
            allowed={locked.status},
            to=Client.Status.CLOSED,
            action="closed",
            reason=reason,
            export=str(export.relative_to(settings.MEDIA_ROOT)),
            export_kept_until=kept.keep_until.isoformat(),
            releasing=[n.number for n in numbers],
            release_after=release_after.isoformat(),
        )
    return export


def numbers_release_due(*, now: datetime.datetime | None = None) -> list[str]:
    """Return to the pool the numbers whose grace period is over; safe to run any time, twice."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            PhoneNumber.objects.select_for_update(skip_locked=True).filter(
                state=PhoneNumber.State.RELEASING, release_after__lte=now
            )
        )
        for number in due:
            record_event(
                actor=None,
                action="number.released",
                obj=number,
                client=number.tenant,
                before={"state": number.state, "tenant": number.tenant_id},
                after={"state": PhoneNumber.State.AVAILABLE},
            )
            number.state, number.tenant, number.assigned_at, number.release_after = (
                "available",
                None,
                None,
                None,
            )
            number.save(update_fields=["state", "tenant", "assigned_at", "release_after"])
    return [n.number for n in due]
