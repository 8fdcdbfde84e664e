"""A client company's telephony settings from what it ordered: hours, time zone, language, recording."""

from __future__ import annotations

import re

from telephony.calls.models import TelephonySettings

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
VOICE_LANGUAGES = {"en": "en-US", "de": "de-DE", "fr": "fr-FR", "es": "es-ES", "it": "it-IT", "ru": "ru-RU"}
_RANGE = re.compile(
    r"(?P<first>mon|tue|wed|thu|fri|sat|sun)[a-z]*(?:\s*-\s*(?P<last>mon|tue|wed|thu|fri|sat|sun)[a-z]*)?"
    r"\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})"
)


def parse_hours(text: str) -> dict[str, list[list[str]]]:
    """``"Mon-Fri 08:00-18:00; Sat 09:00-13:00"`` → business hours per weekday (Monday = "0").

    Unreadable text gives ``{}`` (open 24/7): a caller is never turned away by a typo.
    """
    hours: dict[str, list[list[str]]] = {}
    for match in _RANGE.finditer(text.lower()):
        first = DAYS.index(match["first"])
        last = DAYS.index(match["last"]) if match["last"] else first
        start, end = (f"{int(t.split(':')[0]):02d}:{t.split(':')[1]}" for t in (match["start"], match["end"]))
        if not start < end <= "24:00":
            continue
        for day in range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]:
            hours.setdefault(str(day), []).append([start, end])
    if hours:
        for day in range(7):  # days not named are closed
            hours.setdefault(str(day), [])
    return hours


def settings_from_order(
    *, time_zone: str, business_hours_only: bool, coverage_hours: str, languages: list[str], recording: bool
) -> TelephonySettings:
    """Write the tenant's telephony settings (call inside its schema) from its order."""
    settings = TelephonySettings.current()
    settings.timezone = time_zone or "UTC"
    settings.business_hours = parse_hours(coverage_hours) if business_hours_only else {}
    settings.record_calls = recording
    for code in languages or []:
        if str(code).lower()[:2] in VOICE_LANGUAGES:
            settings.language = VOICE_LANGUAGES[str(code).lower()[:2]]
            break
    settings.save()
    return settings
