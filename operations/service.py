"""A client company's service settings, changed from its portal: business hours per weekday,
holidays, greeting and after-hours behaviour, and the specialists operators transfer callers to.

Each change takes effect on save (the call setup cache is dropped when ``TelephonySettings`` is
saved) and is written with an audit event about the company holding the whole before and after,
so the history is the list of versions and the account manager reads it on the company's page.
Runs in the company's schema.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import itertools
import re

import icalendar
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from scripts_engine.models import Specialist
from telephony.calls.hours import in_force, local_date
from telephony.calls.models import TelephonySettings
from tenants.audit import record_event
from tenants.phones import E164_MESSAGE, is_e164

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SETTINGS_FIELDS = (
    "greeting",
    "operator_announcement",
    "after_hours_message",
    "after_hours",
    "business_hours",
    "holidays",
)
PERIOD = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)\s*-\s*(([01]\d|2[0-3]):([0-5]\d)|24:00)$")
MOST_HOLIDAYS = 366
CALENDAR_MAX_BYTES = 512 * 1024


def periods_parse(text: str, *, day: str) -> list[list[str]]:
    """``"09:00-12:00, 13:00-18:00"`` → ``[["09:00", "12:00"], ["13:00", "18:00"]]``; blank: closed."""
    periods: list[list[str]] = []
    for raw in [part.strip() for part in re.split(r"[,;]", text or "")]:
        if not raw:
            continue
        match = PERIOD.match(raw)
        if not match:
            raise ValidationError(f"{day}: “{raw}” is not a period such as 09:00-17:30.")
        start, end = raw.split("-")[0].strip(), raw.split("-")[1].strip()
        if end <= start:
            raise ValidationError(f"{day}: {start}-{end} ends before it starts.")
        periods.append([start, end])
    periods.sort()
    for before, after in itertools.pairwise(periods):
        if after[0] < before[1]:
            raise ValidationError(f"{day}: {before[0]}-{before[1]} and {after[0]}-{after[1]} overlap.")
    return periods


def periods_text(periods: list[list[str]]) -> str:
    return ", ".join(f"{start}-{end}" for start, end in periods)


def holidays_parse(text: str) -> list[str]:
    """One date (YYYY-MM-DD) per line or comma; sorted, no duplicates."""
    days: set[str] = set()
    for raw in re.split(r"[\s,;]+", text or ""):
        if raw:
            try:
                days.add(dt.date.fromisoformat(raw).isoformat())
            except ValueError as error:
                raise ValidationError(f"“{raw}” is not a date such as 2026-12-25.") from error
    if len(days) > MOST_HOLIDAYS:
        raise ValidationError(f"At most {MOST_HOLIDAYS} holidays.")
    return sorted(days)


def holidays_from_file(name: str, content: bytes) -> list[str]:
    """The closed dates of an ICS calendar (every day an all-day or timed event covers) or of a
    CSV file (the first column that reads as a date on each row)."""
    if len(content) > CALENDAR_MAX_BYTES:
        raise ValidationError("The calendar file is larger than 512 KB.")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValidationError("The calendar file is not UTF-8 text.") from error
    if name.lower().endswith(".ics") or text.lstrip().startswith("BEGIN:VCALENDAR"):
        return _ics_days(content)
    if name.lower().endswith(".csv"):
        return _csv_days(text)
    raise ValidationError("Import an .ics calendar or a .csv file.")


def _ics_days(content: bytes) -> list[str]:
    try:
        calendar = icalendar.Calendar.from_ical(content)
    except ValueError as error:
        raise ValidationError(f"The calendar cannot be read: {error}") from error
    days: set[str] = set()
    for event in calendar.walk("VEVENT"):
        start = event.decoded("DTSTART", None)
        if start is None:
            continue
        end = event.decoded("DTEND", None)
        if not isinstance(start, dt.date) or (end is not None and not isinstance(end, dt.date)):
            raise ValidationError("An event's dates cannot be read (DTSTART/DTEND must be dates or times).")
        first = start.date() if isinstance(start, dt.datetime) else start
        if end is None:
            last = first
        elif isinstance(end, dt.datetime):
            last = end.date()
        else:
            last = end - dt.timedelta(days=1)  # an all-day event's DTEND is the day after (RFC 5545)
        if (last - first).days > MOST_HOLIDAYS:
            raise ValidationError(f"An event from {first} to {last} is longer than a year.")
        day = first
        while day <= last:
            days.add(day.isoformat())
            day += dt.timedelta(days=1)
    if not days:
        raise ValidationError("The calendar holds no events.")
    return holidays_parse(" ".join(days))


def _csv_days(text: str) -> list[str]:
    days: list[str] = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        for cell in row:
            try:
                days.append(dt.date.fromisoformat(cell.strip()).isoformat())
                break
            except ValueError:
                continue
        else:
            if number > 1 and any(cell.strip() for cell in row):  # the first row may be a header
                raise ValidationError(f"Row {number} holds no date such as 2026-12-25.")
    if not days:
        raise ValidationError("The file holds no dates.")
    return holidays_parse(" ".join(days))


DAY_NAMES = {name[:3].lower(): number for number, name in enumerate(WEEKDAYS)}


def weekly_hours_parse(text: str) -> dict[str, list[list[str]]]:
    """``"Mon-Fri 09:00-17:00; Sat 10:00-14:00"`` → business-hours form (``{"0": [["09:00", "17:00"]], …}``);
    blank: any time."""
    hours: dict[str, list[list[str]]] = {}
    for group in [part.strip() for part in (text or "").split(";") if part.strip()]:
        days_text, _, periods_text = group.partition(" ")
        days: list[int] = []
        for item in days_text.split(","):
            first, _, last = item.strip().lower().partition("-")
            if first[:3] not in DAY_NAMES or (last and last[:3] not in DAY_NAMES):
                raise ValidationError(f"“{group}”: write days as Mon-Fri or Sat,Sun, then the hours.")
            start, end = DAY_NAMES[first[:3]], DAY_NAMES[(last or first)[:3]]
            days += list(range(start, end + 1)) if start <= end else [*range(start, 7), *range(0, end + 1)]
        periods = periods_parse(periods_text, day=days_text)
        if not periods:
            raise ValidationError(f"“{group}”: give the hours, such as 09:00-17:00.")
        for day in days:
            if str(day) in hours:
                raise ValidationError(f"{WEEKDAYS[day]} is given twice.")
            hours[str(day)] = periods
    return dict(sorted(hours.items()))


def weekly_hours_text(hours: dict[str, list[list[str]]]) -> str:
    return "; ".join(
        f"{WEEKDAYS[int(day)][:3]} {periods_text(periods)}" for day, periods in sorted(hours.items())
    )


def _settings_view(settings: TelephonySettings) -> dict[str, object]:
    return {name: getattr(settings, name) for name in SETTINGS_FIELDS}


def settings_change(*, changes: dict[str, object], by: object) -> TelephonySettings:
    """Save the company's service settings (effective for the next call), audited with before/after."""
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown settings: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        TelephonySettings.current()
        settings = _folded(TelephonySettings.objects.select_for_update().get(pk=1))
        before = _settings_view(settings)
        for name, value in changes.items():
            setattr(settings, name, value)
        settings.full_clean()
        after = _settings_view(settings)
        if after != before:
            settings.save()
            changed = sorted(name for name in SETTINGS_FIELDS if before[name] != after[name])
            record_event(
                actor=by, action="service.settings", obj=connection.tenant, client=connection.tenant,
                before={k: before[k] for k in changed}, after={k: after[k] for k in changed},
            )  # fmt: skip
    return settings


def _folded(settings: TelephonySettings) -> TelephonySettings:
    """The saved settings with the scheduled changes whose day has come made part of them (so a
    change made now is not overridden by an older schedule)."""
    now = timezone.now()
    today = local_date(settings, now).isoformat()
    folded = in_force(settings, now)
    folded.scheduled = [entry for entry in settings.scheduled or [] if entry["from"] > today]
    return folded


def settings_schedule(
    *, changes: dict[str, object], effective_from: dt.date, by: object
) -> TelephonySettings:
    """Schedule a change of the service settings from a future day (the company's time zone):
    calls on and after that day get it, earlier ones the settings as they are. Validated now as
    the whole settings would be then; a second change for the same day is merged into it; audited."""
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown settings: {', '.join(sorted(unknown))}.")
    if not changes:
        raise ValidationError("Nothing to change.")
    with transaction.atomic():
        TelephonySettings.current()
        settings = _folded(TelephonySettings.objects.select_for_update().get(pk=1))
        today = local_date(settings, timezone.now())
        if effective_from <= today:
            raise ValidationError(f"Choose a day after today ({today:%Y-%m-%d}), or save the change now.")
        day = effective_from.isoformat()
        entries = {entry["from"]: dict(entry["changes"]) for entry in settings.scheduled}
        entries[day] = {**entries.get(day, {}), **changes}
        then = in_force(settings, dt.datetime.combine(effective_from, dt.time(12), tzinfo=dt.UTC))
        then = copy.copy(then)
        for name, value in changes.items():
            setattr(then, name, value)
        then.full_clean()  # the settings as they will be that day are valid
        settings.scheduled = [{"from": d, "changes": entries[d]} for d in sorted(entries)]
        settings.save()
        record_event(
            actor=by, action="service.settings_scheduled", obj=connection.tenant, client=connection.tenant,
            before=None, after={"from": day, "changes": changes},
        )  # fmt: skip
    return settings


def _specialist_view(specialist: Specialist) -> dict[str, object]:
    return {
        "key": specialist.key,
        "name": specialist.name,
        "phone": specialist.phone,
        "hours": specialist.hours,
    }


def specialist_save(
    *, key: str, name: str, phone: str, by: object, hours: dict[str, list[list[str]]] | None = None
) -> Specialist:
    """Add a specialist or change one (by its key); the number must be E.164; ``hours`` when they
    take transfers (business-hours form, empty: any time)."""
    if not is_e164(phone):
        raise ValidationError(E164_MESSAGE)
    with transaction.atomic():
        existing = Specialist.objects.select_for_update().filter(key=key).first()
        before = _specialist_view(existing) if existing else {}
        specialist = existing or Specialist(key=key)
        specialist.name, specialist.phone, specialist.hours = name, phone, hours or {}
        specialist.full_clean()
        specialist.save()
        if before != _specialist_view(specialist):
            record_event(
                actor=by, action="service.specialist", obj=connection.tenant, client=connection.tenant,
                before=before, after=_specialist_view(specialist),
            )  # fmt: skip
    return specialist


def specialist_remove(*, key: str, by: object) -> bool:
    with transaction.atomic():
        specialist = Specialist.objects.select_for_update().filter(key=key).first()
        if specialist is None:
            return False
        record_event(
            actor=by, action="service.specialist", obj=connection.tenant, client=connection.tenant,
            before=_specialist_view(specialist), after={},
        )  # fmt: skip
        specialist.delete()
    return True
