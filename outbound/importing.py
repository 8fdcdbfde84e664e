"""Contact lists for a campaign from CSV or XLSX: read, map columns, normalise, merge, report.

Reading never guesses silently wrong: the encoding comes from a BOM, then strict UTF-8, then
cp1252 (latin-1 for the bytes cp1252 leaves undefined); the delimiter from ``csv.Sniffer``. A bad
row is reported (row number as a spreadsheet shows it, raw value, reason) and never stops the rest.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from django.db import transaction
from phonenumbers import timezone as number_timezones

from outbound.models import Campaign, CampaignContact
from outbound.rules import blocked_numbers, chunks
from outbound.windows import valid_timezone
from outbound.work import mark_work_on_commit
from telephony.calls.models import Contact

FIELDS = ("phone", "first_name", "last_name", "email", "company", "timezone")
FIELD_LABELS = {
    "phone": "Phone number",
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "company": "Company",
    "timezone": "Time zone",
}
_LIMITS = {"first_name": 100, "last_name": 100, "email": 254, "company": 200}
_GUESSES = {
    "phone": ("phone", "telephone", "tel", "mobile", "number", "phone number", "cell", "msisdn"),
    "first_name": (
        "first name",
        "firstname",
        "first",
        "given name",
        "forename",
        "vorname",
        "prénom",
        "prenom",
    ),
    "last_name": ("last name", "lastname", "last", "surname", "family name", "nachname", "nom"),
    "email": ("email", "e mail", "mail", "email address", "e mail address"),
    "company": ("company", "organisation", "organization", "firma", "société", "employer"),
    "timezone": ("timezone", "time zone", "tz", "zone"),
}
MAX_ROWS = 50_000  # one request: about 25 s on a busy 2-core machine
# What one upload may expand to in the web process (10 MB of upload could otherwise be ~10 GB).
MAX_COLUMNS = 100
MAX_CELL_CHARS = 2_000
MAX_XLSX_EXPANDED_BYTES = 64 * 1024 * 1024  # every part of the workbook, uncompressed
MAX_XLSX_PARTS = 500
PREVIEW_ROWS = 5
PREVIEW_CELL_CHARS = 100
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ListError(Exception):
    """The file as a whole cannot be read; the message is for the user."""


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    encoding: str = ""
    delimiter: str = ""


@dataclass(frozen=True)
class Rejection:
    row: int
    raw: str
    reason: str


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    merged: int = 0
    blocked: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.created + self.updated


def decode(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read with."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), "utf-16"
    head = data[:4000]
    if head and head.count(b"\x00") > len(head) // 4:
        # UTF-16 without a BOM: the zero bytes sit on the odd (LE) or even (BE) positions.
        encoding = "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
        return data.decode(encoding, errors="replace"), encoding
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def _limited_row(values: list[str], number: int) -> list[str]:
    """The row as read, or ``ListError`` naming the limit it breaks (``number`` as a spreadsheet shows it)."""
    while values and not values[-1]:
        values.pop()  # empty cells at the end of a row count for nothing
    if len(values) > MAX_COLUMNS:
        raise ListError(f"Row {number} has more than {MAX_COLUMNS} columns; at most {MAX_COLUMNS} are read.")
    for column, value in enumerate(values, start=1):
        if len(value) > MAX_CELL_CHARS:
            raise ListError(
                f"Row {number}, column {column} holds more than {MAX_CELL_CHARS:,} characters "
                f"(at most {MAX_CELL_CHARS:,} per cell)."
            )
    return values


def _too_many_rows() -> ListError:
    return ListError(f"At most {MAX_ROWS:,} rows per file; split the list.")


def read_csv(data: bytes) -> Table:
    text, encoding = decode(data)
    text = text.replace("\x00", "")
    if not text.strip():
        raise ListError("The file is empty.")
    sample = text[:20000]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    rows: list[list[str]] = []
    try:
        for number, row in enumerate(reader, start=1):  # limits checked row by row, as it is read
            rows.append(_limited_row([c.strip() for c in row], number))
            if len(rows) > MAX_ROWS + 1 and any(rows[-1]):
                raise _too_many_rows()
    except csv.Error as exc:
        raise ListError(f"The file is not a readable CSV file ({exc}).") from exc
    return _table(rows, encoding=encoding, delimiter=getattr(dialect, "delimiter", ","))


def _check_workbook_package(data: bytes) -> None:
    """Refuse a workbook whose parts would expand past the limits, before anything is decompressed.

    The sizes are the ones the zip directory declares; Python's zipfile never inflates a part past
    its declared size (a part that lies about it ends early and fails its CRC check), so the sum
    bounds what openpyxl can read.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            parts = package.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ListError("The file is not a readable Excel (.xlsx) workbook.") from exc
    if len(parts) > MAX_XLSX_PARTS:
        raise ListError(f"The workbook has more than {MAX_XLSX_PARTS} parts; save it again as a plain .xlsx.")
    expanded = sum(part.file_size for part in parts)
    if expanded > MAX_XLSX_EXPANDED_BYTES:
        raise ListError(
            f"The workbook expands to {expanded / 2**20:,.0f} MB; at most "
            f"{MAX_XLSX_EXPANDED_BYTES // 2**20} MB uncompressed is read. Save it as CSV or split the list."
        )


def read_xlsx(data: bytes) -> Table:
    from openpyxl import load_workbook

    _check_workbook_package(data)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (zip, XML, key) for a bad file
        raise ListError("The file is not a readable Excel (.xlsx) workbook.") from exc
    rows: list[list[str]] = []
    try:
        sheet = book.worksheets[0]
        declared = sheet.max_column  # the width the sheet declares (its <dimension>), if any
        if declared is not None and declared > MAX_COLUMNS:
            raise ListError(
                f"The sheet is {declared:,} columns wide; at most {MAX_COLUMNS} columns are read. "
                "Delete the empty columns on the right, or save the list as CSV."
            )
        # max_col: read-only sheets pad every row up to the width the file declares (up to 16,384
        # columns), or up to its last cell; a cell past the limit in a sheet that declares no width
        # is not read (one column more than the limit is read, to tell a row that breaks it).
        for number, values in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS + 1, values_only=True), start=1):
            rows.append(_limited_row([_cell(v) for v in values], number))
            if len(rows) > MAX_ROWS + 1:
                break
    except ListError:
        raise
    except Exception as exc:  # a part that ends early, a bad CRC, broken XML
        raise ListError("The file is not a readable Excel (.xlsx) workbook.") from exc
    finally:
        book.close()
    return _table(rows, encoding="xlsx", delimiter="")


def _table(rows: list[list[str]], *, encoding: str, delimiter: str) -> Table:
    while rows and not any(rows[-1]):
        rows.pop()
    if not rows:
        raise ListError("The file is empty.")
    if len(rows) - 1 > MAX_ROWS:
        raise _too_many_rows()
    width = max(len(row) for row in rows)  # a column without a name in the first row gets one
    headers = [h.strip() or f"Column {n + 1}" for n, h in enumerate(rows[0] + [""] * (width - len(rows[0])))]
    return Table(headers=headers, rows=rows[1:], encoding=encoding, delimiter=delimiter)


def preview(table: Table) -> list[list[str]]:
    """The first rows, each cell cut short: what is stored for the mapping step."""
    return [[cell[:PREVIEW_CELL_CHARS] for cell in row[:MAX_COLUMNS]] for row in table.rows[:PREVIEW_ROWS]]


def read_table(data: bytes, filename: str) -> Table:
    """The header row and data rows of an uploaded CSV or XLSX file (raises ``ListError``)."""
    if filename.lower().endswith((".xlsx", ".xlsm")) or data[:4] == b"PK\x03\x04":
        return read_xlsx(data)
    return read_csv(data)


def guess_mapping(headers: list[str]) -> dict[str, int | None]:
    """Which column probably holds each field (the mapping form's first choice)."""
    normal = [re.sub(r"[\s_\-.]+", " ", h.strip().lower()) for h in headers]
    mapping: dict[str, int | None] = {}
    for name in FIELDS:
        found = next((i for i, h in enumerate(normal) if h in _GUESSES[name]), None)
        if found is None and name == "phone":
            found = next((i for i, h in enumerate(normal) if "phone" in h or "tel" in h), None)
        mapping[name] = found
    return mapping


def normalise_phone(raw: str, region: str) -> tuple[str | None, str]:
    """``(E.164, "")`` or ``(None, reason)``."""
    number, reason = _parse_phone(raw, region)
    if number is None:
        return None, reason
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), ""


def _parse_phone(raw: str, region: str) -> tuple[phonenumbers.PhoneNumber | None, str]:
    text = (raw or "").strip()
    if not text:
        return None, "No phone number."
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region.upper() or None)
    except phonenumbers.NumberParseException as exc:
        return None, f"Not a phone number ({_parse_reason(exc)})."
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible in _LENGTH_REASONS:
        return None, f"Not a phone number ({_LENGTH_REASONS[possible]})."
    if not phonenumbers.is_valid_number(number):
        return None, "Not a valid phone number for its country."
    return number, ""


_LENGTH_REASONS = {
    phonenumbers.ValidationResult.TOO_SHORT: "too short",
    phonenumbers.ValidationResult.TOO_LONG: "too long",
    phonenumbers.ValidationResult.INVALID_LENGTH: "wrong length",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
}


def _parse_reason(exc: phonenumbers.NumberParseException) -> str:
    return {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "not a number",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        phonenumbers.NumberParseException.TOO_LONG: "too long",
    }.get(exc.error_type, "unreadable")


def guess_timezone(number: str | phonenumbers.PhoneNumber, default: str) -> str:
    """The number's zone when the numbering plan gives one; the default when it gives none; of
    several, the default if it is one of them, else the first."""
    if isinstance(number, str):
        number = phonenumbers.parse(number)
    zones = [z for z in number_timezones.time_zones_for_number(number) if valid_timezone(z)]
    if not zones:
        return default
    return default if default in zones else zones[0]


def _value(row: list[str], index: int | None) -> str:
    if index is None or index >= len(row):
        return ""
    return row[index].strip()


@dataclass
class _Entry:
    phone: str
    values: dict[str, str]
    extra: dict[str, str]
    number: phonenumbers.PhoneNumber | None = None

    def merge(self, values: dict[str, str], extra: dict[str, str]) -> None:
        """Later non-empty values fill blanks; values already present stay."""
        for key, value in values.items():
            if value and not self.values.get(key):
                self.values[key] = value
        for key, value in extra.items():
            if value and not self.extra.get(key):
                self.extra[key] = value


def parse_rows(
    table: Table, mapping: dict[str, int | None], *, region: str
) -> tuple[dict[str, _Entry], list[Rejection], int]:
    """Entries by E.164 number (duplicates merged), rejections, and how many rows were merged."""
    phone_col = mapping.get("phone")
    if phone_col is None:
        raise ListError("Choose the column that holds the phone number.")
    mapped = {i for i in mapping.values() if i is not None}
    extra_cols = [(i, h) for i, h in enumerate(table.headers) if i not in mapped]
    entries: dict[str, _Entry] = {}
    rejections: list[Rejection] = []
    merged = 0
    for n, row in enumerate(table.rows, start=2):
        if not any(c.strip() for c in row):
            continue
        raw = _value(row, phone_col)
        number, reason = _parse_phone(raw, region)
        if number is None:
            rejections.append(Rejection(row=n, raw=raw, reason=reason))
            continue
        phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        values = {name: _value(row, mapping.get(name))[: _LIMITS.get(name, 64)] for name in FIELDS[1:]}
        if values["email"] and not EMAIL.match(values["email"]):
            values["email"] = ""
        extra = {h[:64]: _value(row, i)[:500] for i, h in extra_cols if _value(row, i)}
        if phone in entries:
            entries[phone].merge(values, extra)
            merged += 1
        else:
            entries[phone] = _Entry(phone=phone, values=values, extra=extra, number=number)
    return entries, rejections, merged


def import_contacts(
    *, campaign: Campaign, table: Table, mapping: dict[str, int | None], priority: int = 0
) -> ImportResult:
    """Add the table's rows to the campaign, in one transaction, reusing the company's contacts.

    A number already in the campaign is merged (blanks filled); a number on a do-not-call list is
    imported as ``dnc`` (shown, never dialed).
    """
    entries, rejections, merged = parse_rows(table, mapping, region=campaign.default_region)
    result = ImportResult(merged=merged, rejections=rejections)
    phones = list(entries)
    with transaction.atomic():
        contacts = {c.phone: c for part in chunks(phones) for c in Contact.objects.filter(phone__in=part)}
        fresh = [_new_contact(entries[p]) for p in phones if p not in contacts]
        Contact.objects.bulk_create(fresh, batch_size=1000)
        changed = [c for c in contacts.values() if _fill_contact(c, entries[c.phone])]
        Contact.objects.bulk_update(
            changed, ["first_name", "last_name", "email", "company", "timezone"], batch_size=1000
        )
        contacts.update({c.phone: c for c in fresh})
        existing = {
            e.phone: e
            for part in chunks(phones)
            for e in CampaignContact.objects.filter(campaign=campaign, phone__in=part)
        }
        blocked = blocked_numbers(phones)
        new_entries: list[CampaignContact] = []
        for phone in phones:
            entry = entries[phone]
            tz = _timezone(entry, campaign)
            if phone in existing:
                current = existing[phone]
                current.fields = {**entry.extra, **{k: v for k, v in current.fields.items() if v}}
                current.timezone = current.timezone or tz
                continue
            state = CampaignContact.State.DNC if phone in blocked else CampaignContact.State.PENDING
            result.blocked += phone in blocked
            new_entries.append(
                CampaignContact(
                    campaign=campaign,
                    contact=contacts[phone],
                    phone=phone,
                    timezone=tz,
                    fields=entry.extra,
                    state=state,
                    priority=priority,
                )
            )
        CampaignContact.objects.bulk_create(new_entries, batch_size=1000)
        CampaignContact.objects.bulk_update(existing.values(), ["fields", "timezone"], batch_size=1000)
        if new_entries and campaign.state == Campaign.State.RUNNING:
            mark_work_on_commit(queue_id=campaign.queue_id)  # the dialer's index (issue 23)
    result.created, result.updated = len(new_entries), len(existing)
    return result


def _timezone(entry: _Entry, campaign: Campaign) -> str:
    given = entry.values.get("timezone", "")
    if valid_timezone(given):
        return given
    default = campaign.default_timezone if valid_timezone(campaign.default_timezone) else "UTC"
    return guess_timezone(entry.number or entry.phone, default)


def _new_contact(entry: _Entry) -> Contact:
    values = {k: v for k, v in entry.values.items() if k != "timezone" or valid_timezone(v)}
    return Contact(phone=entry.phone, **values)


def _fill_contact(contact: Contact, entry: _Entry) -> bool:
    """Fill the reused contact's blank fields from the list; never overwrite what it has."""
    changed = False
    for name in ("first_name", "last_name", "email", "company", "timezone"):
        value = entry.values.get(name, "")
        if name == "timezone" and not valid_timezone(value):
            continue
        if value and not getattr(contact, name):
            setattr(contact, name, value)
            changed = True
    return changed


def rejections_csv(rejections: Iterable[Rejection]) -> str:
    """The rejection report as CSV text: row, value, reason."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "value", "reason"])
    for r in rejections:
        writer.writerow([r.row, safe_cell(r.raw), r.reason])
    return out.getvalue()


def safe_cell(value: str) -> str:
    """No formula injection when a CSV we write is opened in a spreadsheet."""
    return (
        "'" + value
        if value[:1] in ("=", "+", "-", "@") and not re.match(r"^\+?[\d\s()./-]*$", value)
        else value
    )
