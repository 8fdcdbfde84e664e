"""Whether a client company is open: its business hours and holidays, in its own time zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from telephony.calls.models import TelephonySettings


def is_open(settings: TelephonySettings, now: dt.datetime) -> bool:
    """Business hours and holidays in the client company's own time zone; no hours means 24/7."""
    try:
        local = now.astimezone(zoneinfo.ZoneInfo(settings.timezone or "UTC"))
    except zoneinfo.ZoneInfoNotFoundError:
        local = now
    if local.date().isoformat() in set(settings.holidays or []):
        return False
    hours = settings.business_hours or {}
    if not hours:
        return True
    clock = local.strftime("%H:%M")
    return any(start <= clock < end for start, end in hours.get(str(local.weekday()), []))
