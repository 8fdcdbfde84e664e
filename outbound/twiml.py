"""TwiML of outbound calls: the human is bridged to the operator, a machine hears the campaign's message."""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from telephony import twiml

OPERATOR_GONE_MESSAGE = "We are sorry, we cannot take your call right now. We will call you again. Goodbye."
HOLD_MESSAGE = "Please hold the line."


def machine_message(*, voice: twiml.Voice, text: str = "", recording_url: str = "") -> VoiceResponse:
    """What an answering machine hears after the beep (a recording, or spoken text), then hang up."""
    response = VoiceResponse()
    if recording_url:
        response.play(recording_url)
    else:
        voice.say(response, text)
    response.hangup()
    return response


def connect_operator(*, identity: str, record: bool, recording_callback: str, action: str) -> VoiceResponse:
    """The callee answered: bridge them to the operator who was reserved for this call."""
    return twiml.dial_operator(
        identity=identity, record=record, recording_callback=recording_callback, action=action
    )


def hold(*, voice: twiml.Voice, music_url: str) -> VoiceResponse:
    """The caller on hold: a short notice, then music until the operator takes the call back."""
    response = VoiceResponse()
    voice.say(response, HOLD_MESSAGE)
    response.play(music_url, loop=0)
    return response
