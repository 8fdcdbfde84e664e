"""Forms of the quality pages: recording filters, the scorecard editor, the operators' period."""

from __future__ import annotations

import datetime as dt

from django import forms

from quality.models import Criterion
from reporting.filters import DAY_LIMITS

MAX_PERIOD_DAYS = 366


def day_field(label: str, *, required: bool) -> forms.DateField:
    """A local day; ``DAY_LIMITS`` keeps the day after it (the pages' end bound) representable."""
    return forms.DateField(
        required=required, label=label, widget=forms.DateInput(attrs={"type": "date"}), validators=DAY_LIMITS
    )


class RecordingFilter(forms.Form):
    """Filters of the recordings list; the choices come from the company's recorded calls."""

    operator = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Operator")
    queue = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Queue")
    since = day_field("From", required=False)
    until = day_field("To", required=False)
    scored = forms.ChoiceField(
        required=False,
        label="Scored",
        choices=[("", "All"), ("yes", "Scored"), ("no", "Not scored")],
    )

    def __init__(self, *args, operators: list[tuple[int, str]], queues: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["operator"].choices = [("", "Everyone"), *operators]
        self.fields["queue"].choices = [("", "All queues"), *queues]

    def clean(self) -> dict:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            raise forms.ValidationError("The end date is before the start date.")
        return data


class CriterionForm(forms.Form):
    """One row of the scorecard editor; a row left without a name is not kept."""

    name = forms.CharField(max_length=120, required=False, label="Criterion")
    help = forms.CharField(max_length=300, required=False, label="Guidance for the scorer")
    kind = forms.ChoiceField(choices=Criterion.Kind.choices, initial=Criterion.Kind.POINTS, label="Type")
    max_points = forms.IntegerField(min_value=1, max_value=100, initial=5, label="Max points")
    weight = forms.IntegerField(min_value=1, max_value=100, initial=1, label="Weight")


CriterionFormSet = forms.formset_factory(CriterionForm, extra=2, max_num=30, validate_max=True)


class PeriodForm(forms.Form):
    since = day_field("From", required=True)
    until = day_field("To", required=True)

    def clean(self) -> dict:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until:
            if until < since:
                raise forms.ValidationError("The end date is before the start date.")
            if until - since > dt.timedelta(days=MAX_PERIOD_DAYS):
                raise forms.ValidationError(f"Choose a period of at most {MAX_PERIOD_DAYS} days.")
        return data
