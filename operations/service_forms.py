"""Forms of the portal's service settings page."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from operations import service
from scripts_engine.models import IDENTIFIER
from telephony.calls.models import TelephonySettings
from tenants.phones import E164_MESSAGE, is_e164


class ServiceForm(forms.Form):
    greeting = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    operator_announcement = forms.CharField(
        label="Announcement to the operator",
        max_length=200,
        required=False,
        help_text="Said to the operator, not the caller, before each call is put through. "
        "Empty: your company's name and the queue's.",
    )
    after_hours_message = forms.CharField(
        label="After-hours message", max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )
    after_hours = forms.ChoiceField(label="After hours", choices=TelephonySettings.AfterHours.choices)
    open_always = forms.BooleanField(label="Open 24 hours a day, 7 days a week", required=False)
    holidays = forms.CharField(
        label="Holidays (closed all day)", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One date a line: 2026-12-25",
    )  # fmt: skip
    calendar = forms.FileField(
        label="Import holidays from a calendar", required=False,
        help_text="An .ics calendar or a .csv file with a date per row; its dates are added to the list.",
    )  # fmt: skip

    effective_from = forms.DateField(
        label="Takes effect from", required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Empty: from the next call. A later day (your company's time): calls from that day on "
        "get these settings, calls before it the current ones.",
    )  # fmt: skip

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        for number, day in enumerate(service.WEEKDAYS):
            self.fields[f"day_{number}"] = forms.CharField(
                label=day,
                required=False,
                max_length=100,
                help_text="e.g. 09:00-12:30, 13:30-18:00; empty: closed",
            )

    @classmethod
    def initial_from(cls, settings: TelephonySettings) -> dict[str, object]:
        hours = settings.business_hours or {}
        initial: dict[str, object] = {
            "greeting": settings.greeting,
            "operator_announcement": settings.operator_announcement,
            "after_hours_message": settings.after_hours_message,
            "after_hours": settings.after_hours,
            "open_always": not hours,
            "holidays": "\n".join(settings.holidays or []),
        }
        for number in range(7):
            initial[f"day_{number}"] = service.periods_text(hours.get(str(number), []))
        return initial

    def day_fields(self) -> list[forms.BoundField]:
        return [self[f"day_{number}"] for number in range(7)]

    def clean(self) -> dict[str, object]:
        data = super().clean()
        hours: dict[str, list[list[str]]] = {}
        for number, day in enumerate(service.WEEKDAYS):
            try:
                periods = service.periods_parse(data.get(f"day_{number}", ""), day=day)
            except ValidationError as error:
                self.add_error(f"day_{number}", error)
                continue
            if periods:
                hours[str(number)] = periods
        if data.get("open_always"):
            hours = {}
        elif not hours and not self.errors:
            raise ValidationError("Give the opening hours of at least one day, or tick “Open 24 hours”.")
        try:
            days = set(service.holidays_parse(data.get("holidays", "")))
        except ValidationError as error:
            self.add_error("holidays", error)
            days = set()
        upload = data.get("calendar")
        if upload:
            try:
                days |= set(
                    service.holidays_from_file(upload.name, upload.read(service.CALENDAR_MAX_BYTES + 1))
                )
            except ValidationError as error:
                self.add_error("calendar", error)
        data["business_hours"] = hours
        data["holiday_list"] = sorted(days)
        if len(days) > service.MOST_HOLIDAYS:
            self.add_error("holidays", f"At most {service.MOST_HOLIDAYS} holidays.")
        return data

    def changes(self) -> dict[str, object]:
        data = self.cleaned_data
        return {
            "greeting": data["greeting"].strip(),
            "operator_announcement": data["operator_announcement"].strip(),
            "after_hours_message": data["after_hours_message"].strip(),
            "after_hours": data["after_hours"],
            "business_hours": data["business_hours"],
            "holidays": data["holiday_list"],
        }


class SpecialistForm(forms.Form):
    key = forms.CharField(
        label="Key", max_length=64, validators=[IDENTIFIER],
        help_text="The name scripts use for the transfer, e.g. billing_desk",
    )  # fmt: skip
    name = forms.CharField(max_length=120)
    phone = forms.CharField(label="Number", max_length=16, help_text="In E.164 form: +4930123456")
    hours = forms.CharField(
        label="Hours", required=False, max_length=200,
        help_text="When they take transfers, e.g. Mon-Fri 09:00-17:00; Sat 10:00-14:00. Empty: any time.",
    )  # fmt: skip

    def clean_hours(self) -> dict[str, list[list[str]]]:
        return service.weekly_hours_parse(self.cleaned_data.get("hours", ""))

    def clean_phone(self) -> str:
        phone = self.cleaned_data["phone"].replace(" ", "")
        if not is_e164(phone):
            raise ValidationError(E164_MESSAGE)
        return phone
