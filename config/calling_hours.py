"""``CALLBACK_CALLING_HOURS``: the daily hours a person may be called back, "HH:MM-HH:MM".

Read once when the settings load: a malformed value, or one whose start is not before its end
(an overnight window such as "21:00-08:00" is not supported: calling hours are daytime hours),
stops the start with a clear message rather than failing every dial pass later."""

from __future__ import annotations

import datetime as dt


def parse(text: str) -> tuple[dt.time, dt.time] | None:
    """``(start, end)`` of ``"HH:MM-HH:MM"`` (None for an empty value: no limit). Raises
    ``ValueError`` saying what is wrong."""
    text = text.strip()
    if not text:
        return None
    parts = text.split("-")
    try:
        if len(parts) != 2:
            raise ValueError
        start, end = (dt.time.fromisoformat(part.strip()) for part in parts)
    except ValueError:
        raise ValueError(
            f'CALLBACK_CALLING_HOURS must be "HH:MM-HH:MM" (e.g. "08:00-21:00"), not {text!r}'
        ) from None
    if start >= end:
        raise ValueError(
            f"CALLBACK_CALLING_HOURS {text!r}: the start must be before the end, the same day "
            "(overnight windows are not supported)"
        )
    return start, end
