"""Caller IDs of any length Twilio sends (SIP URIs, ``client:`` identities) are answered and stored."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from telephony.calls.models import Call, Contact
from telephony.models import UnservedCall
from tests.telephony.calls_kit import incoming
from tests.twilio_kit import verbs

LONG_CALLERS = [
    "sip:alice.longname-of-the-caller@acme-corporation.sip.us1.twilio.com;transport=tls",
    "client:operator-supervisor-of-the-night-shift",
    "+1415555010012345",  # 16 digits: not E.164, but a caller ID Twilio may pass on
    "sip:" + "x" * 300 + "@example.com",
]


@pytest.mark.parametrize("caller", LONG_CALLERS)
def test_an_incoming_call_with_a_long_caller_id_is_answered_and_recorded_with_it(
    db, tenants, alpha_number, caller
):
    response, params = incoming(alpha_number, caller=caller)
    assert response.status_code == 200
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=params["CallSid"])
        assert call.from_number == caller
        assert call.contact is None  # no card for what is not a phone number
        assert not Contact.objects.filter(phone=caller[:16]).exists()
    with tenant_context(tenants.beta):
        assert not Call.objects.filter(call_sid=params["CallSid"]).exists()


@pytest.mark.parametrize("caller", LONG_CALLERS[:2])
def test_a_long_caller_id_is_recorded_through_the_fallback_when_the_first_step_fails(
    db, tenants, alpha_number, caller, monkeypatch
):
    from telephony.calls import flows

    def broken(**kwargs):
        raise RuntimeError("a bug in the flow")

    monkeypatch.setattr(flows, "first_step", broken)
    response, params = incoming(alpha_number, caller=caller)
    assert response.status_code == 200
    assert verbs(response.content)[:2] == ["Say", "Record"]
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=params["CallSid"])
        assert call.from_number == caller
        assert list(call.events.values_list("kind", flat=True)) == ["incoming", "flow_error"]


def test_a_long_caller_id_to_a_number_we_do_not_serve_is_kept(db, tenants):
    caller = LONG_CALLERS[0]
    response, params = incoming("+15559999998", caller=caller)
    assert response.status_code == 200
    assert UnservedCall.objects.get(call_sid=params["CallSid"]).from_number == caller
