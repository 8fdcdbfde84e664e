"""The recording access log as the client company reads it: filters, rows for the page and exports.

One filter for the portal page, its CSV/XLSX export and ``GET /api/v1/recording-accesses/``: days
are the company's local days (``zone``); the API takes exact UTC-normalised moments instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import django_filters
from django.db.models import Q, QuerySet

from reporting.exports import visible_operator_name
from reporting.filters import LocalDaysFilter
from telephony.calls.models import RecordingAccess

HEADER = ["at (local)", "action", "where", "who", "platform staff", "call id", "call sid", "recording sid",
          "address", "browser"]  # fmt: skip


def who(access: RecordingAccess) -> str:
    """The person (or API key, or task) as the client company is shown them: its own staff by
    name, the platform's staff as everywhere in the portal ("Jane D."), never a login name."""
    if access.surface == RecordingAccess.Surface.RETENTION:
        return "Retention task"
    if access.platform_staff:
        return visible_operator_name(access.name or access.username)
    return access.name or access.username or "\N{EN DASH}"


def filter_who(queryset: QuerySet, typed: str) -> QuerySet:
    """By a part of the name the company sees: its staff's name or login, an API key's name; the
    platform's staff by their shown name's first word (no login name is searchable)."""
    own = Q(platform_staff=False) & (Q(name__icontains=typed) | Q(username__icontains=typed))
    return queryset.filter(own | Q(platform_staff=True, name__istartswith=typed.split(" ")[0]))


class AccessFilter(LocalDaysFilter):
    """The access log's filters: local days, what was done, where, by whom, which call."""

    moment = "at"
    action = django_filters.ChoiceFilter(choices=RecordingAccess.Action.choices, empty_label="Any action")
    surface = django_filters.ChoiceFilter(
        label="Where", choices=RecordingAccess.Surface.choices, empty_label="Anywhere"
    )
    who = django_filters.CharFilter(label="Who", method="filter_who", max_length=150)
    call = django_filters.CharFilter(label="Call SID", field_name="call_sid", max_length=64)

    class Meta:
        model = RecordingAccess
        fields: list[str] = []

    def __init__(self, data: object = None, *, zone: dt.tzinfo) -> None:
        super().__init__(data, queryset=RecordingAccess.objects.order_by("-at", "-pk"), zone=zone)

    def filter_who(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return filter_who(queryset, value)


def rows(accesses: QuerySet, zone: dt.tzinfo) -> Iterator[list[object]]:
    """One export row per access, in the company's time zone, read in chunks."""
    actions = dict(RecordingAccess.Action.choices)
    surfaces = dict(RecordingAccess.Surface.choices)
    for access in accesses.iterator(chunk_size=2000):
        yield [
            access.at.astimezone(zone), actions.get(access.action, access.action),
            surfaces.get(access.surface, access.surface), who(access), "yes" if access.platform_staff else "",
            access.call_id, access.call_sid, access.recording_sid, access.ip or "", access.user_agent,
        ]  # fmt: skip
