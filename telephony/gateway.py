"""Twilio's REST API, through the official ``twilio`` client only.

``TWILIO_API_BASE_URL`` points the client at a local mock of Twilio's API (tests run Prism with
Twilio's own OpenAPI spec); empty in production. TwiML sent by REST has no page to resolve
relative URLs against, so every callback URL in it is made absolute with the public base URL.
"""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from telephony import twiml

log = logging.getLogger(__name__)
TWILIO_API = "https://api.twilio.com"


class RedirectingHttpClient(TwilioHttpClient):
    """The ``twilio`` client's documented extension point, sending its requests to another base."""

    def __init__(self, base_url: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if self.base_url and url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


@functools.cache
def client() -> Client:
    http = RedirectingHttpClient(settings.TWILIO_API_BASE_URL, timeout=10, max_retries=2)
    return Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http)


def absolute(path: str) -> str:
    """A webhook path as Twilio must call it from REST-sent TwiML."""
    base = settings.TWILIO_WEBHOOK_BASE_URL or f"https://{settings.PLATFORM_HOST}"
    return base + path


def update_twiml(*, call_sid: str, twiml_text: str) -> bool:
    """Give a live call new TwiML (a bridge, hold music, back to its operator); False when the call
    is gone or was already moved."""
    try:
        client().calls(call_sid).update(twiml=twiml_text)
    except TwilioRestException as exc:
        # 404: the caller hung up; 400/21220: the call is no longer in progress or already
        # dequeued (a member can be dequeued once): "already bridged or gone", not a crash.
        if exc.status in (400, 404):
            log.info(
                "call %s could not be redirected (%s %s): treated as gone", call_sid, exc.status, exc.code
            )
            return False
        raise
    return True


def bridge_to_operator(*, call_sid: str, identity: str, record: bool) -> bool:
    """Take the waiting caller out of the queue and ring the operator's browser phone."""
    response = twiml.dial_operator(
        identity=identity,
        record=record,
        recording_callback=absolute(twiml.url("twilio-recording")),
        action=absolute(twiml.url("twilio-dial-result", leg="operator")),
    )
    return update_twiml(call_sid=call_sid, twiml_text=str(response))


def transfer_to_specialist(
    *, call_sid: str, number: str, name: str, caller_id: str, voice: twiml.Voice
) -> bool:
    """Hand a live call to one of the client company's specialists (R8)."""
    response = twiml.transfer(
        voice=voice,
        number=number,
        name=name,
        caller_id=caller_id,
        action=absolute(twiml.url("twilio-dial-result", leg="specialist")),
    )
    return update_twiml(call_sid=call_sid, twiml_text=str(response))


def hang_up(*, call_sid: str) -> bool:
    try:
        client().calls(call_sid).update(status="completed")
    except TwilioRestException as exc:
        if exc.status in (400, 404):
            return False
        raise
    return True
