"""What a client chooses on the call list: its filters (a period of local days is ``periods``)."""

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


def queue_choices(tenant_id: int) -> list[tuple[str, str]]:
    """This client company's queues (platform rows, filtered to its own) and calls that never queued."""
    queues = Queue.objects.filter(tenant_id=tenant_id).order_by("name").values_list("pk", "name")
    return [*((str(pk), name) for pk, name in queues), (NO_QUEUE, "No queue (IVR or direct)")]


class CallFilter(django_filters.FilterSet):
    """The call list's filters; days are the client company's local days (``zone``)."""

    start = django_filters.DateFilter(label="From", method="filter_start", widget=DATE, validators=DAY_LIMITS)
    end = django_filters.DateFilter(label="To", method="filter_end", widget=DATE, validators=DAY_LIMITS)
    queue = django_filters.ChoiceFilter(label="Queue", method="filter_queue", empty_label="Any queue")
    direction = django_filters.ChoiceFilter(choices=Call.Direction.choices, empty_label="Both directions")
    outcome = django_filters.ChoiceFilter(choices=Call.Outcome.choices, empty_label="Any outcome")
    disposition = django_filters.ChoiceFilter(empty_label="Any disposition")
    number = django_filters.CharFilter(
        label="Number contains", method="filter_number", max_length=32, validators=[NUMBER]
    )

    class Meta:
        model = Call
        fields: list[str] = []

    def __init__(self, data: object = None, *, tenant_id: int, zone: dt.tzinfo) -> None:
        super().__init__(data, queryset=Call.objects.select_related("contact").order_by("-started_at", "-id"))
        self.zone = zone
        self.filters["queue"].extra["choices"] = queue_choices(tenant_id)
        self.filters["disposition"].extra["choices"] = list(Disposition.objects.values_list("code", "label"))

    def clean_period(self) -> None:
        data = self.form.cleaned_data
        try:
            check_period(data.get("start"), data.get("end"), max_days=None)  # pages: any length
        except ValidationError as error:
            self.form.add_error("end", error)

    def is_valid(self) -> bool:
        valid = super().is_valid()
        if valid:
            self.clean_period()
        return valid and not self.form.errors

    def filter_start(self, queryset: QuerySet[Call], name: str, value: dt.date) -> QuerySet[Call]:
        return queryset.filter(started_at__gte=day_bounds(value, self.zone)[0])

    def filter_end(self, queryset: QuerySet[Call], name: str, value: dt.date) -> QuerySet[Call]:
        return queryset.filter(started_at__lt=day_bounds(value, self.zone)[1])

    def filter_queue(self, queryset: QuerySet[Call], name: str, value: str) -> QuerySet[Call]:
        if value == NO_QUEUE:
            return queryset.filter(queue_id__isnull=True)
        return queryset.filter(queue_id=int(value))

    def filter_number(self, queryset: QuerySet[Call], name: str, value: str) -> QuerySet[Call]:
        digits = "".join(c for c in value if c.isdigit())
        if not digits:
            return queryset
        return queryset.filter(Q(from_number__contains=digits) | Q(to_number__contains=digits))
