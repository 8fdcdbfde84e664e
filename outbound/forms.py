"""Forms of the campaign pages: the campaign, the column mapping, do-not-call numbers."""

from __future__ import annotations

from typing import Any

import phonenumbers
from django import forms
from django.db import connection

from outbound.importing import FIELD_LABELS, FIELDS, normalise_phone
from outbound.models import Campaign
from outbound.windows import valid_timezone
from scripts_engine.models import Disposition, Script
from telephony.models import PhoneNumber, Queue
from tenants.models import Client

WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
MAX_UPLOAD_BYTES = 10 * 1024 * 1024


def _regions() -> list[tuple[str, str]]:
    return sorted((r, r) for r in phonenumbers.SUPPORTED_REGIONS)


class CampaignForm(forms.ModelForm):
    """A campaign's settings; queues and caller IDs are the tenant's own (public schema)."""

    queue = forms.TypedChoiceField(coerce=int, label="Queue", help_text="Its operators make the calls.")
    caller_id = forms.ChoiceField(label="Caller ID", help_text="The number the contacts see.")
    window_days = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS, coerce=int, widget=forms.CheckboxSelectMultiple, label="Calling days"
    )
    default_region = forms.ChoiceField(choices=_regions, label="Default country")
    machine_recording_url = forms.URLField(
        required=False, assume_scheme="https", label="Machine recording URL", help_text="Played to a machine."
    )
    conversion_dispositions = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Conversion dispositions",
        help_text="Sales: calls ending with one of these count as a conversion.",
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "kind",
            "script",
            "mode",
            "starts_on",
            "ends_on",
            "window_start",
            "window_end",
            "window_days",
            "default_region",
            "default_timezone",
            "max_attempts",
            "retry_busy_minutes",
            "retry_no_answer_minutes",
            "retry_machine_minutes",
            "retry_failed_minutes",
            "amd_enabled",
            "machine_action",
            "machine_message",
            "machine_recording_url",
            "conversion_dispositions",
        ]
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}),
            "ends_on": forms.DateInput(attrs={"type": "date"}),
            "window_start": forms.TimeInput(attrs={"type": "time"}),
            "window_end": forms.TimeInput(attrs={"type": "time"}),
        }
        labels = {
            "retry_busy_minutes": "Retry after busy (minutes)",
            "retry_no_answer_minutes": "Retry after no answer (minutes)",
            "retry_machine_minutes": "Retry after a machine (minutes)",
            "retry_failed_minutes": "Retry after a failed call (minutes)",
            "amd_enabled": "Detect answering machines",
            "default_timezone": "Default time zone",
        }
        help_texts = {"retry_busy_minutes": "Empty: never retry after this outcome."}

    def __init__(self, *args: Any, tenant: Client | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tenant = tenant or connection.tenant
        self.queues = {q.pk: q for q in Queue.objects.filter(tenant_id=tenant.pk)}
        self.fields["queue"].choices = [(pk, q.name) for pk, q in self.queues.items()]
        numbers = PhoneNumber.objects.filter(tenant_id=tenant.pk, state=PhoneNumber.State.ASSIGNED)
        self.fields["caller_id"].choices = [(n.number, n.label or n.number) for n in numbers]
        self.fields["script"].queryset = Script.objects.all()
        self.fields["conversion_dispositions"].choices = [
            (d.code, d.label) for d in Disposition.objects.all()
        ]
        if self.instance.pk:
            self.initial.setdefault("queue", self.instance.queue_id)
            self.initial.setdefault("caller_id", self.instance.caller_id)
        else:  # a new campaign: the model's defaults for the fields declared here
            for name in ("window_days", "default_region", "conversion_dispositions"):
                self.initial.setdefault(name, getattr(self.instance, name))

    def clean_default_timezone(self) -> str:
        value = self.cleaned_data["default_timezone"].strip()
        if not valid_timezone(value):
            raise forms.ValidationError(
                "Not a time zone; use a name such as Europe/Berlin or America/New_York."
            )
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("window_start"), data.get("window_end")
        if start and end and start >= end:
            self.add_error("window_end", "The window must end after it starts (same day).")
        first, last = data.get("starts_on"), data.get("ends_on")
        if first and last and first > last:
            self.add_error("ends_on", "The last day comes before the first.")
        action = data.get("machine_action")
        if (
            data.get("amd_enabled")
            and action == Campaign.MachineAction.MESSAGE
            and not data.get("machine_message")
        ):
            self.add_error("machine_message", "Write the message to leave.")
        if (
            data.get("amd_enabled")
            and action == Campaign.MachineAction.RECORDING
            and not data.get("machine_recording_url")
        ):
            self.add_error("machine_recording_url", "Give the recording's address.")
        return data

    def save(self, commit: bool = True) -> Campaign:
        campaign = super().save(commit=False)
        queue = self.queues[self.cleaned_data["queue"]]
        campaign.queue_id, campaign.queue_name = queue.pk, queue.name
        campaign.caller_id = self.cleaned_data["caller_id"]
        if commit:
            campaign.save()
        return campaign


class UploadForm(forms.Form):
    file = forms.FileField(
        label="Contact list (CSV or XLSX)", help_text="The first row holds the column names."
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The file is larger than 10 MB; split the list.")
        return upload


class MappingForm(forms.Form):
    """Which column holds which contact field; every other column is kept as an extra field."""

    priority = forms.IntegerField(
        initial=0, min_value=-100, max_value=100, help_text="Higher is called first."
    )

    def __init__(self, *args: Any, headers: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "— not in the file —")] + [(str(i), h) for i, h in enumerate(headers)]
        for name in FIELDS:
            self.fields[name] = forms.TypedChoiceField(
                choices=choices,
                coerce=int,
                empty_value=None,
                required=name == "phone",
                label=FIELD_LABELS[name],
            )
        self.order_fields([*FIELDS, "priority"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        used = [data.get(n) for n in FIELDS if data.get(n) is not None]
        if len(used) != len(set(used)):
            raise forms.ValidationError("Each column can hold one field only.")
        return data

    def mapping(self) -> dict[str, int | None]:
        return {name: self.cleaned_data.get(name) for name in FIELDS}


class DoNotCallForm(forms.Form):
    phone = forms.CharField(max_length=40, label="Phone number")
    region = forms.ChoiceField(choices=_regions, initial="US", label="Country (for numbers without +)")
    reason = forms.CharField(max_length=200, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("phone") and data.get("region"):
            e164, reason = normalise_phone(data["phone"], data["region"])
            if e164 is None:
                self.add_error("phone", reason)
            else:
                data["e164"] = e164
        return data


class DoNotCallUploadForm(forms.Form):
    file = forms.FileField(label="Numbers (CSV or XLSX, one per row)")
    region = forms.ChoiceField(choices=_regions, initial="US", label="Country (for numbers without +)")

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The file is larger than 10 MB.")
        return upload
