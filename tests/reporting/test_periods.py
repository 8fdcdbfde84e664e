"""One period form: the portal's reports, the back office's figures and the quality pages ask for a
period with the same parameters, the same limits and the same messages."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.models import Role
from reporting.periods import ENDS_BEFORE_START, TOO_LONG, PeriodForm
from tests.conftest import logged_in, make_user

FIRST = dt.date(2026, 1, 1)


def test_a_period_is_at_most_366_days_both_included():
    assert PeriodForm({"start": FIRST, "end": FIRST + dt.timedelta(days=365)}).is_valid()
    too_long = PeriodForm({"start": FIRST, "end": FIRST + dt.timedelta(days=366)})
    assert not too_long.is_valid() and too_long.non_field_errors() == [TOO_LONG]
    backwards = PeriodForm({"start": FIRST, "end": FIRST - dt.timedelta(days=1)})
    assert not backwards.is_valid() and backwards.non_field_errors() == [ENDS_BEFORE_START]
    assert PeriodForm({"start": FIRST, "end": FIRST}).is_valid()


def test_a_day_not_asked_for_is_that_of_the_default_period():
    today = dt.date(2026, 3, 10)
    form = PeriodForm.from_query({}, today=today)
    assert form.is_valid() and (form.cleaned_data["start"], form.cleaned_data["end"]) == (
        dt.date(2026, 3, 4),
        today,
    )
    form = PeriodForm.from_query({"start": "2026-03-01"}, today=today, days=30)
    assert form.is_valid() and (form.cleaned_data["start"], form.cleaned_data["end"]) == (
        dt.date(2026, 3, 1),
        today,
    )
    form = PeriodForm.from_query({"end": "2026-03-01"}, today=today, days=30)
    assert form.is_valid() and form.cleaned_data["start"] == dt.date(2026, 2, 9)


@pytest.fixture
def pages(db, tenants):
    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))
    supervisor = logged_in(None, make_user(None, role=Role.SUPERVISOR))
    return [
        (viewer, "/reports/"),
        (viewer, "/reports/statistics.csv"),
        (supervisor, "/backoffice/reports/"),
        (supervisor, f"/quality/{tenants.alpha.slug}/operators/"),
    ]


@pytest.mark.parametrize(
    ("end", "status", "message"),
    [
        (FIRST - dt.timedelta(days=1), 400, ENDS_BEFORE_START),
        (FIRST + dt.timedelta(days=366), 400, TOO_LONG),
        (FIRST + dt.timedelta(days=365), 200, None),
    ],
)
def test_every_page_with_a_period_answers_the_same(pages, end, status, message):
    for client, path in pages:
        response = client.get(path, {"start": FIRST.isoformat(), "end": end.isoformat()})
        assert response.status_code == status, path
        if message:
            assert message in response.content.decode(), path


def test_lists_with_an_optional_period_refuse_a_backward_one_in_the_same_words(pages, tenants):
    viewer, supervisor = pages[0][0], pages[2][0]
    backwards = {"start": "2026-03-02", "end": "2026-03-01"}
    for client, path in [(viewer, "/reports/calls/"), (supervisor, f"/quality/{tenants.alpha.slug}/")]:
        response = client.get(path, backwards)
        assert response.status_code == 400 and ENDS_BEFORE_START in response.content.decode(), path
