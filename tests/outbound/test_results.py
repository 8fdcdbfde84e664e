"""Campaign results: numbers give a mean, yes/no a share, choices counts; the last answer of a call counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django_tenants.utils import tenant_context

from outbound.models import Attempt, Campaign
from outbound.results import campaign_results
from scripts_engine.models import ScriptSession
from tests.factories import CallFactory
from tests.outbound.kit import add_contact, make_campaign
from tests.outbound.test_pages import portal

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 11, 3, 12, tzinfo=dt.UTC)


def answered(campaign: Campaign, phone: str, answers: dict) -> None:
    entry = add_contact(campaign, phone, state="done", attempts=1)
    session = ScriptSession.objects.create(
        version=campaign.script.versions.get(), kind="call", answers=answers
    )
    call = CallFactory(
        outbound=True, from_number=campaign.caller_id, to_number=phone, started_at=T0, script_session=session
    )
    Attempt.objects.create(
        campaign_contact=entry, campaign=campaign, call=call, started_at=T0, ended_at=T0, outcome="answered"
    )


def test_numbers_yes_no_and_multiple_choices_are_aggregated(tenants):
    with tenant_context(tenants.alpha):
        campaign = make_campaign(tenants.alpha)
        other = make_campaign(tenants.alpha)
        answered(campaign, "+15550600001", {"nps": 9, "ok": True, "topics": ["price", "speed"]})
        answered(campaign, "+15550600002", {"nps": 6, "ok": False, "topics": ["price"]})
        answered(campaign, "+15550600003", {"nps": 9, "ok": True, "topics": []})
        answered(other, "+15550600004", {"nps": 0, "ok": False})  # another campaign's call
        questions = {q["node"]: q for q in campaign_results(campaign)["questions"]}
    assert questions["nps"] == {
        "node": "nps",
        "label": "nps",
        "answers": 3,
        "type": "number",
        "mean": 8.0,
        "min": 6,
        "max": 9,
    }
    assert (questions["ok"]["type"], questions["ok"]["yes"], questions["ok"]["no"]) == ("yes_no", 2, 1)
    assert questions["ok"]["yes_share"] == 0.6667
    assert {c["value"]: c["count"] for c in questions["topics"]["counts"]} == {"price": 2, "speed": 1}
    page = portal(tenants.alpha).get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "<td data-mean>8.0</td>" in page and "66.7 %" in page


def test_a_campaign_without_calls_has_empty_results(tenants):
    with tenant_context(tenants.alpha):
        campaign = make_campaign(tenants.alpha)
        results = campaign_results(campaign)
    assert (results["contacts"], results["reached"], results["reach_rate"], results["questions"]) == (
        0,
        0,
        None,
        [],
    )
