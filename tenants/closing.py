"""A closed company's data export: kept for the contract's notice period, handed out through signed
links that expire, to the company's admins (on its host) and the account managers (back office)."""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from tenants.contracts import DEFAULT_NOTICE_DAYS
from tenants.models import Client, ClientExport, Contract

SALT = "tenants.closing.export"
# A link works this long after the page that showed it (the export itself is kept longer).
LINK_SECONDS = 24 * 3600


def notice_days(client: Client) -> int:
    """The notice period of the company's contract in force (the template's default without one)."""
    contract = (
        Contract.objects.filter(client=client, in_force__isnull=False).select_related("in_force").first()
    )
    if contract is None:
        return DEFAULT_NOTICE_DAYS
    return int(contract.in_force.terms.get("notice_days") or DEFAULT_NOTICE_DAYS)


def export_keep(*, client: Client, path: Path, now: datetime.datetime) -> ClientExport:
    """Record an export file written for ``client`` (in the caller's transaction)."""
    data = path.read_bytes()
    return ClientExport.objects.create(
        client=client,
        path=str(path.relative_to(settings.MEDIA_ROOT)),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        created_at=now,
        keep_until=now + datetime.timedelta(days=max(notice_days(client), 1)),
    )


def download_token(export: ClientExport) -> str:
    """A signed token naming the export and its company; it expires after ``LINK_SECONDS``."""
    return signing.TimestampSigner(salt=SALT).sign_object({"export": export.pk, "client": export.client_id})


def access_export(*, token: str, client_id: int | None, now: datetime.datetime | None = None) -> ClientExport:
    """The export a token names, if it is valid, fresh, of ``client_id`` (None: any company, for the
    account managers) and still kept; else ``LookupError`` with the reason."""
    try:
        data = signing.TimestampSigner(salt=SALT).unsign_object(token, max_age=LINK_SECONDS)
    except signing.SignatureExpired:
        raise LookupError("This download link has expired: open the page again for a fresh one.") from None
    except signing.BadSignature:
        raise LookupError("This download link is not valid.") from None
    if client_id is not None and data.get("client") != client_id:
        raise LookupError("This download link is not valid.")
    export = ClientExport.objects.filter(pk=data.get("export"), client_id=data.get("client")).first()
    now = now or timezone.now()
    if export is None or export.deleted_at is not None or export.keep_until <= now:
        raise LookupError("This export is no longer kept.")
    return export


def export_file(export: ClientExport) -> Path:
    return Path(settings.MEDIA_ROOT) / export.path


def exports_purge_due(*, now: datetime.datetime | None = None) -> list[int]:
    """Delete the files of exports kept past their notice period; safe to run any time, twice."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            ClientExport.objects.select_for_update(skip_locked=True).filter(
                keep_until__lte=now, deleted_at__isnull=True
            )
        )
        for export in due:
            export_file(export).unlink(missing_ok=True)
            export.deleted_at = now
            export.save(update_fields=["deleted_at"])
    return [e.pk for e in due]
