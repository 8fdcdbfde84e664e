"""Forms of the operations pages."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from operations.skills import languages_parse
from telephony.models import OperatorProfile, Queue
from tenants.models import Client


class LanguagesField(forms.CharField):
    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 80)
        super().__init__(**kwargs)

    def clean(self, value: str) -> list[str]:
        return languages_parse(super().clean(value) or "")


def _queue_label(queue: Queue) -> str:
    return f"{queue.tenant.name} · {queue.name}"


class QueueChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Queue) -> str:
        return _queue_label(obj)


class OperatorLanguagesForm(forms.Form):
    languages = LanguagesField(label="Languages spoken", help_text="Codes, comma-separated: en, de, fr")


class SkillForm(forms.Form):
    queue = QueueChoiceField(
        queryset=Queue.objects.select_related("tenant")
        .exclude(tenant__status=Client.Status.CLOSED)
        .order_by("tenant__name", "name"),
        label="Company and queue",
    )
    tier = forms.IntegerField(min_value=1, max_value=9, initial=1, help_text="1 is offered first.")
    languages = LanguagesField(label="Languages for this queue", help_text="Empty: the operator's own.")


class OperatorChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: OperatorProfile) -> str:
        name = obj.user.get_full_name() or obj.user.username
        langs = f" ({', '.join(obj.languages)})" if obj.languages else ""
        return f"{name}{langs}"


class TeamGrantForm(forms.Form):
    queue = QueueChoiceField(queryset=Queue.objects.none(), label="Queue")
    tier = forms.IntegerField(min_value=1, max_value=9, initial=1)
    operators = OperatorChoiceField(
        queryset=OperatorProfile.objects.select_related("user").order_by("user__username"),
        widget=forms.CheckboxSelectMultiple,
        label="Operators",
    )

    def __init__(self, *args: object, company: Client, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        queues = Queue.objects.filter(tenant=company).select_related("tenant").order_by("-is_default", "name")
        self.fields["queue"].queryset = queues
        default = queues.first()
        if default is not None:
            self.fields["queue"].initial = default.pk


class ShiftForm(forms.Form):
    starts_at = forms.DateTimeField(
        label="Starts", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    ends_at = forms.DateTimeField(
        label="Ends", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    break_minutes = forms.IntegerField(label="Breaks (minutes)", min_value=0, max_value=240, initial=0)
    note = forms.CharField(required=False, max_length=120)

    def clean(self) -> dict[str, object]:
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            raise ValidationError("A shift must end after it starts.")
        return data
