"""The fallback outside the platform (issue 22): static TwiML per number, served from another host.

Twilio asks a number's *fallback URL* when its voice URL fails or times out (error 11200/11205). A
fallback on the platform's own host is down exactly when the platform is, so each number gets a
static file to upload to storage on another host (an S3/GCS bucket, a CDN, any web server): it says
sorry in the company's voice and language and records a message. The recording's status callback
still points at the platform (it stores the message when the platform is up); when the platform is
down, the reconciliation lists Twilio's recordings and imports the message (``reconcile``).
Static hosts answer GET only: the number's fallback method and the record's action are GET.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django_tenants.utils import tenant_context
from twilio.twiml.voice_response import VoiceResponse

from telephony import gateway, twiml
from telephony.calls.models import TelephonySettings
from telephony.models import PhoneNumber

GOODBYE_FILE = "goodbye.xml"
MAX_MESSAGE_SECONDS = 120


@dataclass(frozen=True)
class FallbackFile:
    number: str
    schema: str
    name: str  # the file name under the static base URL
    twiml: str


def file_name(number: str) -> str:
    """``+15550199001`` → ``15550199001.xml`` (no ``+`` in a URL path)."""
    return number.lstrip("+") + ".xml"


def fallback_twiml(*, voice: twiml.Voice, message: str, static_base: str) -> str:
    """Sorry, then record a message; its callback to the platform, the goodbye from the static host."""
    response = VoiceResponse()
    voice.say(response, message)
    response.record(
        action=f"{static_base.rstrip('/')}/{GOODBYE_FILE}",
        method="GET",
        max_length=MAX_MESSAGE_SECONDS,
        play_beep=True,
        finish_on_key="#",
        recording_status_callback=gateway.absolute(twiml.url("twilio-recording")),
        recording_status_callback_method="POST",
    )
    voice.say(response, "We did not receive a message. Goodbye.")
    response.hangup()
    return str(response)


def build(*, static_base: str) -> list[FallbackFile]:
    """The fallback file of every number in service, each built in its company's schema."""
    files: list[FallbackFile] = []
    numbers = PhoneNumber.objects.select_related("tenant").filter(
        tenant__isnull=False, state=PhoneNumber.State.ASSIGNED
    )
    for number in numbers.order_by("number"):
        with tenant_context(number.tenant):
            settings = TelephonySettings.current()
            voice = twiml.Voice(voice=settings.voice, language=settings.language)
            text = fallback_twiml(voice=voice, message=twiml.SORRY_MESSAGE, static_base=static_base)
        files.append(FallbackFile(number.number, number.tenant.schema_name, file_name(number.number), text))
    return files


def goodbye_twiml() -> str:
    return str(twiml.goodbye("Thank you for your message. Goodbye."))


def write(*, files: list[FallbackFile], into: Path) -> list[Path]:
    """Write the files and the shared goodbye into ``into``; the paths written."""
    into.mkdir(parents=True, exist_ok=True)
    written = []
    for item in [*files, FallbackFile("", "", GOODBYE_FILE, goodbye_twiml())]:
        path = into / item.name
        path.write_text(item.twiml, encoding="utf-8")
        written.append(path)
    return written
