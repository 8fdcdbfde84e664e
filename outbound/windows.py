"""Calling windows in the contact's own time zone: pure functions on plain values, no database.

A window is open on the campaign's weekdays from ``start`` (inclusive) to ``end`` (exclusive), in
local wall-clock time, between the schedule's first and last day. Every comparison is made on UTC
instants, so the days a clock changes (DST) neither open a window early nor keep it open late.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC
_LOOKAHEAD_DAYS = 15


@dataclass(frozen=True)
class Window:
    start: dt.time
    end: dt.time
    days: frozenset[int]
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None

    @classmethod
    def of(cls, campaign: Any) -> Window:
        """The window of a campaign (anything with the Campaign's window fields)."""
        return cls(
            start=campaign.window_start,
            end=campaign.window_end,
            days=frozenset(int(d) for d in campaign.window_days or ()),
            starts_on=campaign.starts_on,
            ends_on=campaign.ends_on,
        )


def valid_timezone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone this system knows."""
    if not name or not isinstance(name, str):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _bounds(window: Window, day: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    opens = dt.datetime.combine(day, window.start, tzinfo=zone).astimezone(UTC)
    closes = dt.datetime.combine(day, window.end, tzinfo=zone).astimezone(UTC)
    return opens, closes


def in_window(window: Window, tz: str, now: dt.datetime) -> bool:
    """Whether ``now`` (aware) falls inside the window in time zone ``tz``."""
    local = now.astimezone(ZoneInfo(tz))
    day = local.date()
    if window.starts_on and day < window.starts_on:
        return False
    if window.ends_on and day > window.ends_on:
        return False
    if day.weekday() not in window.days:
        return False
    return window.start <= local.time().replace(tzinfo=None) < window.end


def next_opening(window: Window, tz: str, at: dt.datetime) -> dt.datetime | None:
    """The first instant at or after ``at`` inside the window (UTC), or None when the schedule is over."""
    zone = ZoneInfo(tz)
    at_utc = at.astimezone(UTC)
    if in_window(window, tz, at_utc):
        return at_utc
    day = at_utc.astimezone(zone).date()
    if window.starts_on and day < window.starts_on:
        day = window.starts_on
    for offset in range(_LOOKAHEAD_DAYS):
        candidate = day + dt.timedelta(days=offset)
        if window.ends_on and candidate > window.ends_on:
            return None
        if candidate.weekday() not in window.days:
            continue
        opens, _closes = _bounds(window, candidate, zone)
        if opens >= at_utc:
            return opens
    return None
