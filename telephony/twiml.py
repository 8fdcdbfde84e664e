"""TwiML builders: every voice response the platform gives, built with ``twilio.twiml`` only."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from django.db import connection
from django.http import HttpResponse
from django.urls import reverse
from twilio.twiml.voice_response import Gather, VoiceResponse

SUSPENDED_MESSAGE = (
    "Thank you for calling. This service is temporarily unavailable. Please try again later. Goodbye."
)
UNKNOWN_NUMBER_MESSAGE = "We are sorry, this number is not in service. Goodbye."
SORRY_MESSAGE = "We are sorry, something went wrong. Please leave a message after the tone."


if TYPE_CHECKING:
    from telephony.calls.models import TelephonySettings


class Voice:
    """The tenant's voice and language for every <Say>."""

    def __init__(self, *, voice: str = "alice", language: str = "en-US") -> None:
        self.voice, self.language = voice, language

    def say(self, parent: VoiceResponse | Gather, text: str) -> None:
        if text:
            parent.say(text, voice=self.voice, language=self.language)

    @classmethod
    def of(cls, settings: TelephonySettings) -> Voice:
        """The voice of a company's settings (``TelephonySettings``: ``voice`` and ``language``)."""
        return cls(voice=settings.voice, language=settings.language)


def response(twiml: VoiceResponse) -> HttpResponse:
    return HttpResponse(str(twiml), content_type="text/xml")


def url(name: str, **query: object) -> str:
    """A webhook path on the platform host carrying the tenant's schema (``t``).

    Twilio signs the whole URL, so ``t`` cannot be changed by whoever replays a request.
    """
    if connection.schema_name != "public":
        query = {"t": connection.schema_name, **query}
    path = _path(name)
    return f"{path}?{urlencode(query)}" if query else path


@functools.cache
def _path(name: str) -> str:
    """A webhook's path (the URL patterns are fixed for the life of the process)."""
    return reverse(name, urlconf="config.urls_public")


def goodbye(message: str, voice: Voice | None = None) -> VoiceResponse:
    twiml = VoiceResponse()
    (voice or Voice()).say(twiml, message)
    twiml.hangup()
    return twiml


def gather(*, voice: Voice, prompt: str, action: str, digits_max: int = 1, hints: list[str]) -> VoiceResponse:
    """An automatic script node: DTMF and speech, then back to ``action`` with what was heard."""
    twiml = VoiceResponse()
    g = twiml.gather(
        input="dtmf speech",
        action=action,
        method="POST",
        num_digits=digits_max,
        timeout=6,
        speech_timeout="auto",
        language=voice.language,
        hints=", ".join(hints) if hints else None,
        action_on_empty_result=True,
    )
    voice.say(g, prompt)
    return twiml


def enqueue(*, voice: Voice, text: str, queue_name: str, wait_url: str, action: str) -> VoiceResponse:
    """Put the caller in line: the greeting, then Twilio's queue with its wait and result URLs."""
    twiml = VoiceResponse()
    voice.say(twiml, text)
    twiml.enqueue(queue_name, wait_url=wait_url, wait_url_method="POST", action=action, method="POST")
    return twiml


def wait_message(
    *, voice: Voice, text: str, hold_music_url: str, loops: int, options_action: str
) -> VoiceResponse:
    """One wait-URL turn: ``text`` (position, expected wait, the key), then the music ``loops`` times,
    all inside one ``<Gather>``: the key works while the text is said and all through the music.
    Twilio asks the wait URL again when the turn ends (the next announcement)."""
    twiml = VoiceResponse()
    g = twiml.gather(
        input="dtmf", num_digits=1, timeout=1, finish_on_key="", action=options_action, method="POST"
    )
    voice.say(g, text)
    g.play(hold_music_url, loop=max(1, loops))
    return twiml


def leave_queue(*, voice: Voice | None = None, text: str = "") -> VoiceResponse:
    """Out of Twilio's queue (to the Enqueue action), after ``text`` when there is one."""
    twiml = VoiceResponse()
    if text:
        (voice or Voice()).say(twiml, text)
    twiml.leave()
    return twiml


LEAVE_CHOICES = "To be called back as soon as an operator is free, press 1. To leave a message, press 2."


def leave_options(
    *, voice: Voice, action: str, text: str = "", choices: str = LEAVE_CHOICES
) -> VoiceResponse:
    """Callback or voicemail (after ``text``); silence goes on to ``action`` (voicemail), never dropped."""
    twiml = VoiceResponse()
    g = twiml.gather(input="dtmf speech", num_digits=1, timeout=8, action=action, method="POST",
                     hints="callback, message", language=voice.language)  # fmt: skip
    voice.say(g, text)
    voice.say(g, choices)
    twiml.redirect(action, method="POST")
    return twiml


def keys(
    *, voice: Voice, text: str, action: str, num_digits: int = 1, finish_on_key: str = "", timeout: int = 8
) -> VoiceResponse:
    """Ask for keys after ``text``; silence goes on to ``action`` without digits (asked again there)."""
    twiml = VoiceResponse()
    g = twiml.gather(input="dtmf", num_digits=num_digits, finish_on_key=finish_on_key, timeout=timeout,
                     action=action, method="POST")  # fmt: skip
    voice.say(g, text)
    twiml.redirect(action, method="POST")
    return twiml


def voicemail(*, voice: Voice, message: str, action: str, recording_callback: str) -> VoiceResponse:
    twiml = VoiceResponse()
    voice.say(twiml, message)
    twiml.record(
        action=action,
        method="POST",
        max_length=120,
        play_beep=True,
        finish_on_key="#",
        recording_status_callback=recording_callback,
        recording_status_callback_method="POST",
    )
    voice.say(twiml, "We did not receive a message. Goodbye.")
    twiml.hangup()
    return twiml


def dial_operator(*, identity: str, record: bool, recording_callback: str, action: str) -> VoiceResponse:
    """Bridge the caller to the operator's browser phone (Twilio Voice SDK client)."""
    twiml = VoiceResponse()
    dial = twiml.dial(
        action=action,
        method="POST",
        answer_on_bridge=True,
        record="record-from-answer-dual" if record else None,
        recording_status_callback=recording_callback if record else None,
        recording_status_callback_method="POST" if record else None,
    )
    dial.client(identity)
    return twiml


def transfer(*, voice: Voice, number: str, name: str, caller_id: str, action: str) -> VoiceResponse:
    """Hand the call to the client company's own specialist (R8)."""
    twiml = VoiceResponse()
    voice.say(twiml, f"Please hold, we are connecting you to {name}.")
    dial = twiml.dial(action=action, method="POST", caller_id=caller_id, timeout=25, answer_on_bridge=True)
    dial.number(number)
    return twiml


CALLER_LABEL = "caller"
# The conference's events the platform acts on: join (the operator's join answers the call) and end.
# Not start: the conference starts when the operator joins (the caller does not start it), so that
# join is its start (the recording's zero: ``recording_pauses.recording_started_at``). Not leave:
# the caller's leaving ends the conference (``endConferenceOnExit``; a caller moved out while
# waiting leaves it empty, which ends it too), and every other leg (operator, specialist,
# supervisor) reports its own end on its status callback. Not hold nor mute: those follow the
# platform's own requests, recorded as it makes them. Each is a webhook a participant the call
# would pay for nothing (``python -m bench capacity`` counts them).
CONFERENCE_EVENTS = "end join"


def conference_name(call_sid: str) -> str:
    """The call's conference: one per call, named for it."""
    return f"call-{call_sid}"


def _conference(
    twiml: VoiceResponse,
    *,
    name: str,
    label: str,
    starts: bool,
    status_callback: str,
    recording_callback: str | None,
    **attributes: object,
) -> None:
    """``<Dial><Conference>`` into the call's conference as ``label``, with the conference's own
    settings (its callbacks, its recording): whoever comes first creates it with them, so both the
    caller's TwiML and the operator's carry them. The conference ends when either leaves; it starts
    (hold music stops, the recording begins) when a participant who ``starts`` it joins."""
    dial = twiml.dial()
    dial.conference(
        name,
        participant_label=label,
        start_conference_on_enter=starts,
        end_conference_on_exit=True,
        beep="false",
        status_callback=status_callback,
        status_callback_method="POST",
        status_callback_event=CONFERENCE_EVENTS,
        record="record-from-start" if recording_callback else None,
        recording_status_callback=recording_callback,
        recording_status_callback_method="POST" if recording_callback else None,
        recording_status_callback_event="completed" if recording_callback else None,
        **attributes,
    )


def conference_caller(
    *,
    name: str,
    hold_music_url: str,
    status_callback: str,
    recording_callback: str | None,
    greeting: str = "",
    voice: Voice | None = None,
) -> VoiceResponse:
    """Move the caller into the call's conference: hold music until the operator joins (the caller
    does not start it), and the conference ends when the caller leaves. ``recording_callback``:
    record the conference from its start (the operator's join) to its end, one file per call.
    ``greeting``: said first (a caller called back hears who calls)."""
    twiml = VoiceResponse()
    (voice or Voice()).say(twiml, greeting)
    _conference(
        twiml,
        name=name,
        label=CALLER_LABEL,
        starts=False,
        status_callback=status_callback,
        recording_callback=recording_callback,
        wait_url=hold_music_url or None,
        wait_method="GET" if hold_music_url else None,
    )
    twiml.hangup()
    return twiml


def operator_leg(
    *,
    name: str,
    label: str,
    announcement: str,
    voice: Voice,
    status_callback: str,
    recording_callback: str | None,
) -> VoiceResponse:
    """The operator's own leg (``calls.create`` with this TwiML): they hear whose call it is
    (R19: the client and the queue), said to them alone before they join, then they join the call's
    conference as ``label`` and start it (the caller's music stops; they talk)."""
    twiml = VoiceResponse()
    voice.say(twiml, announcement)
    _conference(
        twiml,
        name=name,
        label=label,
        starts=True,
        status_callback=status_callback,
        recording_callback=recording_callback,
    )
    return twiml
