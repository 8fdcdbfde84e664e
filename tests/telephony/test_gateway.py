"""REST calls to Twilio go through the real ``twilio`` client to Prism, which validates them."""

from __future__ import annotations

from telephony import gateway, twiml
from tests.twilio_kit import check_twiml

CALL_SID = "CA" + "a" * 32


def test_bridging_a_waiting_caller_is_a_valid_call_update(db, twilio_mock):
    assert gateway.bridge_to_operator(call_sid=CALL_SID, identity="operator-7", record=True) is True


def test_transferring_to_a_specialist_is_a_valid_call_update(db, twilio_mock):
    assert gateway.transfer_to_specialist(
        call_sid=CALL_SID, number="+4930123456", name="Billing", caller_id="+15550100", voice=twiml.Voice()
    )


def test_hanging_up_is_a_valid_call_update(db, twilio_mock):
    assert gateway.hang_up(call_sid=CALL_SID) is True


def test_the_mock_refuses_what_twilio_would_refuse(db, twilio_mock):
    """The mock is not a yes-machine: a call created without ``To`` is refused, naming the field."""
    client = gateway.client()
    url = f"https://api.twilio.com/2010-04-01/Accounts/{client.account_sid}/Calls.json"
    response = client.request("POST", url, data={"From": "+15550100", "Url": "https://example.com/x"})
    assert response.status_code == 422
    assert "To" in response.text
    created = client.calls.create(to="+15550101", from_="+15550100", url="https://example.com/x")
    assert created.sid.startswith("CA")


def test_the_twiml_sent_by_rest_is_valid_and_uses_absolute_callback_urls(db, tenants):
    from django_tenants.utils import tenant_context

    with tenant_context(tenants.alpha):
        text = str(
            twiml.dial_operator(
                identity="operator-7",
                record=True,
                recording_callback=gateway.absolute(twiml.url("twilio-recording")),
                action=gateway.absolute(twiml.url("twilio-dial-result", leg="operator")),
            )
        )
    dial = check_twiml(text).find("Dial")
    assert dial.get("action").startswith("https://localhost/twilio/voice/dial-result?t=t_alpha")
    assert dial.get("record") == "record-from-answer-dual"
    assert dial.find("Client").text == "operator-7"
