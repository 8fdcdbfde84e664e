"""Outbound calls as Twilio plays them: the Dial action that TwiML names, the caller ID at dial time."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.template.loader import render_to_string
from django.utils import timezone
from django_tenants.utils import tenant_context

from outbound import dialer
from outbound.control import CampaignError, campaign_control
from outbound.models import Campaign, CampaignContact
from telephony.calls.models import Call
from telephony.models import OperatorProfile, PhoneNumber
from tests.factories import CallbackFactory, CallFactory
from tests.outbound.dialer_kit import operators_on, outbound_calls, running_campaign, spy_calls_create
from tests.twilio_kit import check_twiml, signed_post


@pytest.fixture
def created(monkeypatch, twilio_mock):
    return spy_calls_create(monkeypatch)


@pytest.fixture
def dial_pass(db):
    baseline = OperatorProfile.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def run(**kwargs):
        mine = list(OperatorProfile.objects.filter(pk__gt=baseline).values_list("pk", flat=True))
        return dialer.unscoped_dial_pass(operator_ids=mine, **kwargs)

    return run


def _twilio(url: str, call, **fields: str):
    """POST to ``url`` exactly as TwiML or the REST call named it (Twilio adds nothing to it)."""
    params = {
        "AccountSid": "AC" + "1" * 32, "ApiVersion": "2010-04-01", "CallSid": call.call_sid,
        "From": call.from_number, "To": call.to_number, "Direction": "outbound-api",
        "CallStatus": "in-progress", **fields,
    }  # fmt: skip
    parts = urlsplit(url)
    return signed_post(f"{parts.path}?{parts.query}", params)


def test_the_dial_action_named_in_the_twiml_runs_its_handler(dial_pass, db, tenants, created):
    """Before: the action URL had no ``c``, so the handler answered <Hangup/> without running."""
    _campaign, queue, _phones = running_campaign(tenants.alpha, contacts=1)
    operators_on(queue, 1)
    dial_pass()
    (call,) = outbound_calls(tenants.alpha)
    answer_url = created[0]["url"]
    root = check_twiml(_twilio(answer_url, call, AnsweredBy="human").content)
    action = root.find("Dial").get("action")
    assert parse_qs(urlsplit(action).query)["c"] == [str(call.pk)]

    response = _twilio(
        action, call, DialCallStatus="completed", DialCallDuration="37", DialCallSid="CA" + "d" * 32
    )

    assert response.status_code == 200
    check_twiml(response.content)
    with tenant_context(tenants.alpha):
        call.refresh_from_db()
        (event,) = call.events.filter(kind="dial_result:operator", data__status="completed")
        assert event.data["duration"] == 37  # the leg's DialCallDuration, kept as evidence


def test_a_caller_id_moved_to_another_company_pauses_the_campaign_at_dial_time(
    dial_pass, db, tenants, created
):
    """Before: the campaign kept dialling from a number that now belongs to another company."""
    campaign, queue, _ = running_campaign(tenants.alpha, contacts=2)
    (operator,) = operators_on(queue, 1)
    PhoneNumber.objects.filter(number=campaign.caller_id).update(tenant=tenants.beta)  # moved

    dial_pass()

    assert created == []  # nothing dialled from beta's number
    operator.refresh_from_db()
    assert operator.state == "available"  # given back at once
    with tenant_context(tenants.alpha):
        campaign.refresh_from_db()
        assert campaign.state == Campaign.State.PAUSED and campaign.paused_at is not None
        assert campaign.caller_id in campaign.pause_reason and "no longer" in campaign.pause_reason
        assert set(CampaignContact.objects.filter(campaign=campaign).values_list("state", flat=True)) == {
            "pending"
        }
        assert not Call.objects.filter(direction="outbound").exists()
        with pytest.raises(CampaignError, match="no longer one of your numbers"):
            campaign_control(campaign=campaign, action="resume", now=timezone.now())
        campaign.refresh_from_db()
        assert campaign.state == Campaign.State.PAUSED
    assert dial_pass() == []  # a paused campaign gives no more work


def test_the_campaign_page_says_why_the_platform_paused_it(dial_pass, db, tenants, created):
    campaign, queue, _ = running_campaign(tenants.alpha, contacts=1)
    operators_on(queue, 1)
    PhoneNumber.objects.filter(number=campaign.caller_id).update(tenant=None, state="available")  # released
    dial_pass()
    with tenant_context(tenants.alpha):
        campaign.refresh_from_db()
        html = render_to_string("outbound/_controls.html", {"campaign": campaign})
    assert campaign.pause_reason and campaign.pause_reason in html


def test_a_callback_from_a_number_no_longer_ours_is_dialled_from_one_of_ours(dial_pass, db, tenants, created):
    _, queue, _ = running_campaign(tenants.alpha, contacts=1)  # gives alpha an assigned number
    operators_on(queue, 1)
    ours = PhoneNumber.objects.filter(tenant=tenants.alpha, state="assigned").values_list("number", flat=True)
    with tenant_context(tenants.alpha):
        earlier = CallFactory(
            from_number="+14155550142", to_number="+15550177777", outcome="callback_requested",
            outcome_at=timezone.now(),
        )  # fmt: skip
        CallbackFactory(call=earlier, reason="requested", queue_id=queue.pk, priority=7)
    (reserved,) = dial_pass()
    assert dialer.place_call(tenant=tenants.alpha, call_id=reserved.call_id)
    assert created[0]["from_"] in set(ours) and created[0]["from_"] != "+15550177777"
    (call,) = outbound_calls(tenants.alpha)
    assert call.from_number == created[0]["from_"]
    with tenant_context(tenants.alpha):
        assert call.events.get(kind="caller_id_changed").data["was"] == "+15550177777"
