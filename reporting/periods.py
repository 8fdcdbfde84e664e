"""A period of local days as every page chooses it: the one form, its limits and its messages.

The portal's reports, the back office's figures and the quality pages ask for the same thing in
the same words: ``?start=<first day>&end=<last day>`` (both included, ISO dates), at most
``MAX_PERIOD_DAYS`` days, by default the last days up to today. Filters with an optional period
(the call list, the recordings) check theirs with ``check_period``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator

MAX_PERIOD_DAYS = 366
DEFAULT_DAYS = 7
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# A local day turned into UTC bounds must stay within datetime's range (else a 500, not a 400).
DAY_LIMITS = [
    MinValueValidator(dt.date.min + dt.timedelta(days=2)),
    MaxValueValidator(dt.date.max - dt.timedelta(days=2)),
]
ENDS_BEFORE_START = "The first day must not be after the last day."
TOO_LONG = f"Choose at most {MAX_PERIOD_DAYS} days."


def day_field(label: str, *, required: bool = True) -> forms.DateField:
    """A local day; ``DAY_LIMITS`` keeps the day after it (a period's end bound) representable."""
    return forms.DateField(label=label, required=required, widget=DATE, validators=DAY_LIMITS)


def check_period(
    start: dt.date | None, end: dt.date | None, *, max_days: int | None = MAX_PERIOD_DAYS
) -> None:
    """Refuse a period whose first day is after its last, or longer than ``max_days`` (None: any
    length); an open end (None) is no period to check."""
    if start is None or end is None:
        return
    if start > end:
        raise ValidationError(ENDS_BEFORE_START, code="order")
    if max_days is not None and (end - start).days >= max_days:
        raise ValidationError(TOO_LONG, code="length")


def default_period(today: dt.date, *, days: int = DEFAULT_DAYS) -> tuple[dt.date, dt.date]:
    """The last ``days`` days up to ``today``, both included."""
    return today - dt.timedelta(days=days - 1), today


class PeriodForm(forms.Form):
    """A range of local days: ``start`` and ``end``, both included."""

    start = day_field("From")
    end = day_field("To")

    @classmethod
    def from_query(cls, query: Mapping[str, str], *, today: dt.date, days: int = DEFAULT_DAYS) -> PeriodForm:
        """The period asked for in ``query``; a day not given is that of the last ``days`` days
        up to ``today``."""
        start, end = default_period(today, days=days)
        data = {"start": start.isoformat(), "end": end.isoformat()}
        data.update({k: query.get(k) for k in ("start", "end") if query.get(k)})
        return cls(data)

    def clean(self) -> dict[str, object]:
        data = super().clean()
        check_period(data.get("start"), data.get("end"))
        return data
