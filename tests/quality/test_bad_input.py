"""Bad input on the quality pages gets a 400 with a message, never a 500 or a half-written record."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from quality.models import Score
from telephony import recordings
from telephony.calls.models import Call
from tests.quality.kit import make_call
from tests.quality.test_scoring import CARD, _call, _criteria, _formset, _score_post


@pytest.mark.parametrize(
    "query",
    [
        "?start=9999-12-31&end=9999-12-31",
        "?end=9999-12-31",
        "?start=0001-01-01&end=0001-01-02",
        "?page=-1",
        "?operator=abc&queue=99999999999999999999",
    ],
)
def test_odd_filters_of_the_recordings_and_operators_pages_never_fail(supervisor, tenants, query):
    for page in ("", "operators/"):
        response = supervisor.get(f"/quality/{tenants.alpha.slug}/{page}{query}")
        assert response.status_code in (200, 400), (page, query)


@pytest.mark.parametrize(
    "change",
    [
        {"comment": "bad\x00comment"},
        {"version": "x"},
        {"version": "99999999999999999999"},
        {"points-FIRST": "99999999999999999999"},
        {"points-FIRST": "\x00"},
        {"comment-FIRST": "a\x00b"},
    ],
)
def test_odd_score_posts_are_refused_and_write_nothing(supervisor, tenants, change):
    supervisor.post(f"/quality/{tenants.alpha.slug}/scorecard/", _formset(CARD))
    criteria = _criteria(tenants.alpha)
    call = _call(tenants.alpha)
    data = _score_post(call, criteria, [4, 1, 2])
    data |= {k.replace("FIRST", str(criteria[0].pk)): v for k, v in change.items()}
    response = supervisor.post(f"/quality/{tenants.alpha.slug}/calls/{call.pk}/", data)
    assert response.status_code == 400
    with tenant_context(tenants.alpha):
        assert not Score.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"c-TOTAL_FORMS": "x", "c-INITIAL_FORMS": "0"},
        {"c-TOTAL_FORMS": "1", "c-INITIAL_FORMS": "0", "c-0-name": "a\x00b", "c-0-kind": "points",
         "c-0-max_points": "5", "c-0-weight": "1"},
        {"c-TOTAL_FORMS": "1", "c-INITIAL_FORMS": "0", "c-0-name": "A", "c-0-kind": "nope",
         "c-0-max_points": "99999999999999999999", "c-0-weight": "-1"},
        {"c-TOTAL_FORMS": "1000", "c-INITIAL_FORMS": "0"},
    ],
)  # fmt: skip
def test_odd_scorecard_posts_are_refused(supervisor, tenants, data):
    response = supervisor.post(f"/quality/{tenants.alpha.slug}/scorecard/", data)
    assert response.status_code == 400 and _criteria(tenants.alpha) == []


def test_the_recording_task_sent_by_another_company_never_reads_this_ones_call(db, tenants, media):
    """Ids are per company: run in beta's schema, alpha's call id finds nothing and nothing is fetched."""
    call = make_call(tenants.alpha)
    with tenant_context(tenants.beta), pytest.raises(Call.DoesNotExist):
        recordings.store_recording(call_id=call.pk)
    assert media.requests == []
    with tenant_context(tenants.alpha):
        assert Call.objects.get(pk=call.pk).recording_key == ""


def test_a_call_id_past_the_integer_range_is_a_404(supervisor, tenants):
    huge = 10**20
    for page in (f"calls/{huge}/", f"calls/{huge}/audio"):
        assert supervisor.get(f"/quality/{tenants.alpha.slug}/{page}").status_code == 404


def test_a_scorecard_posted_without_rows_is_refused_with_the_reason(supervisor, tenants):
    data = {"c-TOTAL_FORMS": "0", "c-INITIAL_FORMS": "0"}
    response = supervisor.post(f"/quality/{tenants.alpha.slug}/scorecard/", data)
    assert (
        response.status_code == 400
        and "A scorecard needs at least one criterion." in response.content.decode()
    )
    assert _criteria(tenants.alpha) == []
