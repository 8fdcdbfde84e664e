"""Whether a client company is open (its business hours and holidays, in its own time zone), and
what a caller hears when it is not."""

from __future__ import annotations

import copy
import datetime as dt
import zoneinfo

from scripts_engine.models import Specialist
from telephony.calls.models import TelephonySettings


def local_date(settings: TelephonySettings, now: dt.datetime) -> dt.date:
    """The day it is at ``now`` in the company's time zone."""
    try:
        return now.astimezone(zoneinfo.ZoneInfo(settings.timezone or "UTC")).date()
    except zoneinfo.ZoneInfoNotFoundError:
        return now.date()


def in_force(settings: TelephonySettings, now: dt.datetime) -> TelephonySettings:
    """The settings as they stand at ``now``: the saved ones with every scheduled change whose
    date (in the company's time zone) has come applied in date order. A copy, never saved."""
    today = local_date(settings, now).isoformat()
    due = [entry for entry in settings.scheduled or [] if entry["from"] <= today]
    if not due:
        return settings
    version = copy.copy(settings)
    for entry in sorted(due, key=lambda entry: entry["from"]):
        for name, value in entry["changes"].items():
            setattr(version, name, value)
    return version


def is_open(settings: TelephonySettings, now: dt.datetime) -> bool:
    """Business hours and holidays in the client company's own time zone; no hours means 24/7."""
    return within_hours(settings.business_hours or {}, settings, now)


def within_hours(hours: dict[str, list[list[str]]], settings: TelephonySettings, now: dt.datetime) -> bool:
    """Whether ``now`` falls in these weekly hours (``{"0": [["09:00", "17:00"]], …}``, Monday = 0)
    in the company's time zone, and is not one of its holidays; no hours means any time."""
    try:
        local = now.astimezone(zoneinfo.ZoneInfo(settings.timezone or "UTC"))
    except zoneinfo.ZoneInfoNotFoundError:
        local = now
    if local.date().isoformat() in set(settings.holidays or []):
        return False
    if not hours:
        return True
    clock = local.strftime("%H:%M")
    return any(start <= clock < end for start, end in hours.get(str(local.weekday()), []))


def specialist_available(specialist: Specialist, settings: TelephonySettings, now: dt.datetime) -> bool:
    """Whether a specialist takes transfers at ``now``: no hours means always (an on-call line);
    with hours, within them in the company's time zone and never on the company's holidays."""
    if not specialist.hours:
        return True
    return within_hours(specialist.hours, settings, now)


# What each after-hours behaviour says when the company kept the default message (whose "leave a
# message after the tone" is true only of voicemail).
DEFAULT_AFTER_HOURS_TEXT = {
    TelephonySettings.AfterHours.CALLBACK: (
        "We are closed now. We will call you back as soon as we open. Goodbye."
    ),
    TelephonySettings.AfterHours.QUEUE: (
        "We are closed now, but please stay on the line: an operator will answer as soon as one is free."
    ),
}


def after_hours_text(settings: TelephonySettings) -> str:
    """What a caller hears after hours, true to the company's behaviour: its own message as written
    (the callback behaviour adds that we will call back); the default message, which asks for a
    message after the tone, only before a voicemail, else the behaviour's own default."""
    default = TelephonySettings._meta.get_field("after_hours_message").default
    message = (settings.after_hours_message or "").strip()
    behaviour = settings.after_hours
    if behaviour not in DEFAULT_AFTER_HOURS_TEXT:  # voicemail
        return message or default
    if not message or message == default:
        return DEFAULT_AFTER_HOURS_TEXT[behaviour]
    if behaviour == TelephonySettings.AfterHours.CALLBACK:
        return f"{message} We will call you back. Goodbye."
    return message
