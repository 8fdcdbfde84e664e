"""Outbound calls as Twilio plays them: the Dial action that TwiML names, the caller ID at dial time."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django_tenants.utils import tenant_context

from outbound import dialer
from telephony.models import OperatorProfile
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
        assert call.talk_seconds == 37
        assert call.events.filter(kind="dial_result:operator", data__status="completed").count() == 1
