"""REST calls to Twilio go through the real ``twilio`` client to Prism, which validates them."""

from __future__ import annotations

import pytest
import requests
from django_tenants.utils import tenant_context

from telephony import gateway, twiml
from tests.twilio_kit import check_twiml

CALL_SID = "CA" + "a" * 32


def test_moving_a_caller_into_a_conference_is_a_valid_call_update(db, tenants, twilio_mock):
    with tenant_context(tenants.alpha):
        text = str(
            twiml.conference_caller(
                name=f"call-{CALL_SID}",
                hold_music_url="https://example.com/music.mp3",
                status_callback=gateway.absolute(twiml.url("twilio-conference", c=1)),
                recording_callback=gateway.absolute(twiml.url("twilio-conference-recording", c=1)),
            )
        )
    assert gateway.update_call(call_sid=CALL_SID, twiml_text=text) is gateway.Answer.DONE


def test_ringing_the_operators_phone_into_the_conference_is_a_valid_call_create(db, tenants, twilio_mock):
    with tenant_context(tenants.alpha):
        text = str(
            twiml.operator_leg(
                name=f"call-{CALL_SID}", label="operator-12", announcement="Alpha, Main",
                voice=twiml.Voice(), recording_callback=None,
                status_callback=gateway.absolute(twiml.url("twilio-conference", c=1)),
            )
        )  # fmt: skip
    answer, leg = gateway.ring_client(
        identity="operator-7", twiml_text=text, timeout=20,
        status_callback="https://localhost/twilio/voice/conference-leg?t=t_alpha&c=1&r=12",
    )  # fmt: skip
    assert answer is gateway.Answer.DONE and leg.startswith("CA")


def test_ringing_a_specialist_into_the_conference_is_a_valid_participant_create(db, twilio_mock):
    answer, leg = gateway.add_participant(
        conference=f"call-{CALL_SID}", to="+4930123456", caller_id="+15550100", label="specialist-12",
        status_callback="https://localhost/twilio/voice/conference-leg?t=t_alpha&c=1&r=12", timeout=20,
    )  # fmt: skip
    assert answer is gateway.Answer.DONE and leg.startswith("CA")


def test_holding_muting_and_ending_a_conference_are_valid_requests(db, twilio_mock):
    conference = "CF" + "c" * 32
    done = gateway.Answer.DONE
    music = "https://example.com/music.mp3"
    held = gateway.update_participant(
        conference_sid=conference, participant=CALL_SID, hold=True, hold_url=music, hold_method="GET"
    )
    muted = gateway.update_participant(conference_sid=conference, participant="operator-12", muted=True)
    assert held is done and muted is done
    assert gateway.remove_participant(conference_sid=conference, participant=CALL_SID) is done
    assert gateway.end_conference(conference_sid=conference) is done


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
    with tenant_context(tenants.alpha):
        text = str(
            twiml.conference_caller(
                name="call-CA1",
                hold_music_url="https://example.com/music.mp3",
                status_callback=gateway.absolute(twiml.url("twilio-conference", c=1)),
                recording_callback=gateway.absolute(twiml.url("twilio-conference-recording", c=1)),
            )
        )
    conference = check_twiml(text).find("Dial/Conference")
    assert conference.get("statusCallback").startswith("https://localhost/twilio/voice/conference?t=t_alpha")
    assert conference.get("recordingStatusCallback").startswith(
        "https://localhost/twilio/voice/conference-rec"
    )
    assert conference.get("record") == "record-from-start"  # from the operator's join: they start it
    assert conference.get("participantLabel") == "caller"
    assert conference.get("muted") is None  # nobody else is there until the operator joins


def test_the_operators_leg_says_whose_call_it_is_then_joins_with_the_conferences_own_settings(db, tenants):
    """Whoever joins first creates the conference: the operator's noun carries its callbacks too."""
    with tenant_context(tenants.alpha):
        callbacks = {
            "status_callback": gateway.absolute(twiml.url("twilio-conference", c=1)),
            "recording_callback": gateway.absolute(twiml.url("twilio-conference-recording", c=1)),
        }
        caller = check_twiml(
            str(twiml.conference_caller(name="call-CA1", hold_music_url="", **callbacks))
        ).find("Dial/Conference")
        leg = check_twiml(
            str(twiml.operator_leg(name="call-CA1", label="operator-9", announcement="Alpha, Main",
                                   voice=twiml.Voice(voice="Polly.Joanna", language="en-GB"), **callbacks))
        )  # fmt: skip
    (say,) = leg.findall("Say")
    assert (say.text, say.get("voice"), say.get("language")) == ("Alpha, Main", "Polly.Joanna", "en-GB")
    assert [child.tag for child in leg] == ["Say", "Dial"]  # said before the join, to the operator alone
    conference = leg.find("Dial/Conference")
    assert conference.text == "call-CA1" and conference.get("participantLabel") == "operator-9"
    assert (
        conference.get("startConferenceOnEnter") == "true" and conference.get("endConferenceOnExit") == "true"
    )
    shared = ("statusCallback", "statusCallbackEvent", "record", "recordingStatusCallback", "beep")
    assert {name: conference.get(name) for name in shared} == {name: caller.get(name) for name in shared}
    assert conference.get("statusCallbackEvent") == "end join"


def test_only_a_request_that_went_out_unanswered_may_have_reached_twilio():
    def failing(exc):
        def request():
            raise exc

        return request

    for lost in (requests.ReadTimeout("read timed out"), requests.ConnectionError("connection reset")):
        assert gateway.may_have_reached_twilio(lost)
        with pytest.raises(gateway.TwilioNoAnswer):
            gateway.send(failing(lost), what="a call")
    never_sent = requests.ConnectTimeout("connect timed out")
    assert not gateway.may_have_reached_twilio(never_sent)
    with pytest.raises(gateway.TwilioUnavailable) as raised:
        gateway.send(failing(never_sent), what="a call")
    assert not isinstance(raised.value, gateway.TwilioNoAnswer)


def test_a_list_page_twilio_does_not_serve_is_retried_or_refused_by_its_status():
    """The ``twilio`` client raises a bare ``TwilioException`` for a list page that is not a 200
    (no Twilio error code there): 429 and 5xx are retried, 404 is gone, any other is refused."""
    from twilio.base.exceptions import TwilioException
    from twilio.http.response import Response

    def page(status: int):
        def request():
            raise TwilioException("Unable to fetch page", Response(status, "{}"))

        return request

    for status in (429, 500, 503):
        with pytest.raises(gateway.TwilioUnavailable):
            gateway.send(page(status), what="calls to client:operator-1")
    assert gateway.send(page(404), what="calls")[0] is gateway.Answer.GONE
    assert gateway.send(page(403), what="calls")[0] is gateway.Answer.REFUSED

    def unreadable():
        raise TwilioException("Page Records can not be deserialized")

    assert gateway.send(unreadable, what="calls")[0] is gateway.Answer.REFUSED  # asking again gets the same
