"""The client announced to the operator before the caller is put through (R19).

Shared operators serve many companies, so the operator first hears whose call it is ("Acme,
support"; the company's ``operator_announcement`` setting, else its name and the queue's).

How (the choice, and why): the operator's leg is a call to their browser phone whose TwiML says
the announcement, then joins the call's conference (``twiml.operator_leg``, sent with the
``calls.create`` of ``conferences.bridge``). Only the operator hears it, before they are in the
conference, while the caller hears the conference's music; their join starts the conference and
the two talk at once. Nothing else is asked of Twilio: no announcement URL to fetch, no muting
and unmuting, no callback to wait for and no timer for when it is lost (issue 23: those were three
REST requests, two tasks and a webhook a call).
"""

from __future__ import annotations

from django.db import connection

from telephony import twiml
from telephony.calls.company import settings_now
from telephony.calls.flows import conference_callbacks, voice_of
from telephony.calls.models import Call, TelephonySettings


def announcement_text(call: Call, settings: TelephonySettings | None = None) -> str:
    """What the operator hears: the company's own text, else "<company>, <queue>"."""
    text = (settings or settings_now()).operator_announcement.strip()
    if text:
        return text
    company = connection.tenant.name
    return f"{company}, {call.queue_name}" if call.queue_name else company


def operator_leg(call: Call, *, label: str) -> tuple[twiml.VoiceResponse, str]:
    """The TwiML of the operator's leg into the call's conference (the announcement, then the join
    as ``label``), and the announcement's text."""
    settings = settings_now()
    text = announcement_text(call, settings)
    status_callback, recording_callback = conference_callbacks(call, settings)
    response = twiml.operator_leg(
        name=twiml.conference_name(call.call_sid),
        label=label,
        announcement=text,
        voice=voice_of(settings),
        status_callback=status_callback,
        recording_callback=recording_callback,
    )
    return response, text
