"""Do-not-call lists: the client company's own (tenant schema) and the platform's (public schema)."""

from __future__ import annotations

from django.db import transaction

from outbound.importing import Rejection, Table, guess_mapping, normalise_phone
from outbound.models import CampaignContact, DoNotCall
from outbound.rules import chunks
from telephony.models import PlatformDoNotCall


def dnc_add(
    *, phone: str, reason: str = "", source: str = DoNotCall.Source.MANUAL, by_name: str = ""
) -> bool:
    """Put an E.164 number on the company's list; its pending campaign entries become ``dnc``.
    False when it was there already."""
    with transaction.atomic():
        _, created = DoNotCall.objects.get_or_create(
            phone=phone, defaults={"reason": reason[:200], "source": source, "added_by_name": by_name[:150]}
        )
        CampaignContact.objects.filter(phone=phone, state=CampaignContact.State.PENDING).update(
            state=CampaignContact.State.DNC
        )
    return created


def dnc_remove(*, entry: DoNotCall) -> None:
    """Take a number off the company's list; entries held back only by the list may be called again
    (an opted-out person stays opted out in every campaign)."""
    with transaction.atomic():
        CampaignContact.objects.filter(phone=entry.phone, state=CampaignContact.State.DNC).exclude(
            phone__in=PlatformDoNotCall.objects.values("phone")
        ).update(state=CampaignContact.State.PENDING)
        entry.delete()


def phones_from_table(table: Table, *, region: str) -> tuple[list[str], list[Rejection]]:
    """The E.164 numbers of an uploaded list (its phone column, else the first); a first row that
    is itself a number is data, not a header."""
    column = guess_mapping(table.headers)["phone"] or 0
    rows = [(n, row) for n, row in enumerate(table.rows, start=2)]
    header = table.headers[column] if column < len(table.headers) else ""
    if normalise_phone(header, region)[0]:
        rows.insert(0, (1, table.headers))
    phones: list[str] = []
    rejections: list[Rejection] = []
    for n, row in rows:
        raw = row[column].strip() if column < len(row) else ""
        if not any(c.strip() for c in row):
            continue
        e164, reason = normalise_phone(raw, region)
        if e164 is None:
            rejections.append(Rejection(row=n, raw=raw, reason=reason))
        elif e164 not in phones:
            phones.append(e164)
    return phones, rejections


def _add_new(model: type[DoNotCall] | type[PlatformDoNotCall], phones: list[str], **fields: str) -> int:
    """Insert the numbers not on ``model``'s list yet; returns how many were new."""
    known: set[str] = set()
    for part in chunks(phones):
        known.update(model.objects.filter(phone__in=part).values_list("phone", flat=True))
    new = [p for p in dict.fromkeys(phones) if p not in known]
    model.objects.bulk_create([model(phone=p, **fields) for p in new], batch_size=1000)
    return len(new)


def dnc_add_many(*, phones: list[str], source: str = DoNotCall.Source.UPLOAD, by_name: str = "") -> int:
    """Add many numbers to the company's list at once; returns how many were new."""
    with transaction.atomic():
        for part in chunks(phones):
            CampaignContact.objects.filter(phone__in=part, state=CampaignContact.State.PENDING).update(
                state=CampaignContact.State.DNC
            )
        return _add_new(DoNotCall, phones, source=source, added_by_name=by_name[:150])


def platform_dnc_add(*, phone: str, reason: str = "", by_name: str = "") -> bool:
    """Put a number on the platform's list (checked at dial time by every client company)."""
    _, created = PlatformDoNotCall.objects.get_or_create(
        phone=phone, defaults={"reason": reason[:200], "added_by_name": by_name[:150]}
    )
    return created


def platform_dnc_add_many(*, phones: list[str], by_name: str = "") -> int:
    """Add many numbers to the platform's list at once; returns how many were new."""
    with transaction.atomic():
        return _add_new(PlatformDoNotCall, phones, added_by_name=by_name[:150])
