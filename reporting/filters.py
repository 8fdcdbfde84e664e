"""The call list's filters, the portal's and the API's (a period of local days is ``periods``).

A filter means the same wherever it appears: ``number`` finds the calls from or to a number that
contains the digits typed (a part of a number is enough; spaces, ``+``, dashes and brackets are
ignored), in the portal's call list, its export and ``GET /api/v1/calls/``.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db.models import Q, QuerySet

from reporting.periods import DATE, DAY_LIMITS, check_period
from reporting.stats import day_bounds
from scripts_engine.models import Disposition
from telephony.calls.models import Call
from telephony.models import Queue

NO_QUEUE = "0"
NUMBER = RegexValidator(r"^[+0-9 ().-]{1,32}$", "Type digits of the number, e.g. 555 0100 or +1555.")
NUMBER_HELP = (
    "Calls from or to a number containing these digits: a part of a number is enough, e.g. 5550100"
    " or +1 555; spaces, +, dashes and brackets are ignored."
)


def calls_with_number(calls: QuerySet[Call], typed: str) -> QuerySet[Call]:
    """The calls whose caller's or callee's number contains the digits of ``typed`` (all if none)."""
    digits = "".join(c for c in typed if c.isdigit())
    if not digits:
        return calls
    return calls.filter(Q(from_number__contains=digits) | Q(to_number__contains=digits))


class NumberFilter(django_filters.CharFilter):
    """``number``: the calls from or to a number containing the digits typed (``calls_with_number``)."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("help_text", NUMBER_HELP)
        super().__init__(max_length=32, validators=[NUMBER], **kwargs)

    def filter(self, qs: QuerySet[Call], value: str) -> QuerySet[Call]:
        return calls_with_number(qs, value) if value else qs


def queue_choices(tenant_id: int) -> list[tuple[str, str]]:
    """This client company's queues (platform rows, filtered to its own) and calls that never queued."""
    queues = Queue.objects.filter(tenant_id=tenant_id).order_by("name").values_list("pk", "name")
    return [*((str(pk), name) for pk, name in queues), (NO_QUEUE, "No queue (IVR or direct)")]


class LocalDaysFilter(django_filters.FilterSet):
    """A list's optional period, ``start`` and ``end`` (both included, any length), in local days
    of the client company (``zone``), on the moment each row happened (``moment``): the call list,
    the recording access log, and their exports (``exports.filtered_export``)."""

    start = django_filters.DateFilter(label="From", method="filter_start", widget=DATE, validators=DAY_LIMITS)
    end = django_filters.DateFilter(label="To", method="filter_end", widget=DATE, validators=DAY_LIMITS)
    moment = ""

    def __init__(self, data: object = None, *, queryset: QuerySet, zone: dt.tzinfo) -> None:
        super().__init__(data, queryset=queryset)
        self.zone = zone

    def is_valid(self) -> bool:
        valid = super().is_valid()
        if valid:
            data = self.form.cleaned_data
            try:
                check_period(data.get("start"), data.get("end"), max_days=None)  # pages: any length
            except ValidationError as error:
                self.form.add_error("end", error)
        return valid and not self.form.errors

    def filter_start(self, queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        return queryset.filter(**{f"{self.moment}__gte": day_bounds(value, self.zone)[0]})

    def filter_end(self, queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        return queryset.filter(**{f"{self.moment}__lt": day_bounds(value, self.zone)[1]})


class CallFilter(LocalDaysFilter):
    """The call list's filters; days are the client company's local days (``zone``)."""

    moment = "started_at"
    queue = django_filters.ChoiceFilter(label="Queue", method="filter_queue", empty_label="Any queue")
    direction = django_filters.ChoiceFilter(choices=Call.Direction.choices, empty_label="Both directions")
    outcome = django_filters.ChoiceFilter(choices=Call.Outcome.choices, empty_label="Any outcome")
    disposition = django_filters.ChoiceFilter(empty_label="Any disposition")
    number = NumberFilter(label="Number contains", help_text="")

    class Meta:
        model = Call
        fields: list[str] = []

    def __init__(self, data: object = None, *, tenant_id: int, zone: dt.tzinfo) -> None:
        queryset = Call.objects.select_related("contact").order_by("-started_at", "-id")
        super().__init__(data, queryset=queryset, zone=zone)
        self.filters["queue"].extra["choices"] = queue_choices(tenant_id)
        self.filters["disposition"].extra["choices"] = list(Disposition.objects.values_list("code", "label"))

    def filter_queue(self, queryset: QuerySet[Call], name: str, value: str) -> QuerySet[Call]:
        if value == NO_QUEUE:
            return queryset.filter(queue_id__isnull=True)
        return queryset.filter(queue_id=int(value))
