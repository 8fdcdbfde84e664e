"""Forms of the quality pages: recording filters and the scorecard editor (the operators' period is
``reporting.periods.PeriodForm``, as on every page)."""

from __future__ import annotations

from django import forms

from quality.models import Criterion
from reporting.periods import check_period, day_field


class RecordingFilter(forms.Form):
    """Filters of the recordings list; the choices come from the company's recorded calls."""

    operator = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Operator")
    queue = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Queue")
    start = day_field("From", required=False)
    end = day_field("To", required=False)
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
        check_period(data.get("start"), data.get("end"), max_days=None)  # a list: any length
        return data


class CriterionForm(forms.Form):
    """One row of the scorecard editor; a row left without a name is not kept."""

    name = forms.CharField(max_length=120, required=False, label="Criterion")
    help = forms.CharField(max_length=300, required=False, label="Guidance for the scorer")
    kind = forms.ChoiceField(choices=Criterion.Kind.choices, initial=Criterion.Kind.POINTS, label="Type")
    max_points = forms.IntegerField(min_value=1, max_value=100, initial=5, label="Max points")
    weight = forms.IntegerField(min_value=1, max_value=100, initial=1, label="Weight")


CriterionFormSet = forms.formset_factory(CriterionForm, extra=2, max_num=30, validate_max=True)
