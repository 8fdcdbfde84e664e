"""Call recordings kept in the client company's own storage (R21), never behind a public URL.

Twilio reports a finished recording to the recording webhook; a tenant task then fetches the
audio (the recording's URL + ``.mp3``, HTTP basic auth with the account SID and token) and saves it
through Django's default storage under ``recordings/<schema>/<call sid>/<recording sid>.mp3`` (``.wav``
when what came back is a WAV file, as the simulator's is: it is then served as ``audio/wav``).
Staff hear it only through views that check who asks and stream the file from there.
"""

from __future__ import annotations

import logging
import re
import tempfile

import requests
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection
from django.http import FileResponse, Http404

from telephony.calls.models import Call
from telephony.calls.records import add_event
from telephony.gateway import TWILIO_API

log = logging.getLogger(__name__)

SID = re.compile(r"^[A-Za-z0-9]{2,64}$")
CHUNK = 64 * 1024
MAX_BYTES = 512 * 1024 * 1024  # four hours of Twilio's mono MP3 is well under this
AUDIO_FORMATS = (".mp3", ".wav")


class RecordingNotReady(Exception):
    """Twilio could not hand the audio over now (network, 5xx, not there yet): try again later."""


class RecordingRefused(Exception):
    """The audio can never be fetched as asked (bad URL, credentials refused): do not retry."""


def recording_key(*, schema: str, call_sid: str, recording_sid: str, extension: str = ".mp3") -> str:
    """The storage key of a recording: tenant first, so one company's files never mix with another's."""
    for part in (schema, call_sid, recording_sid):
        if not SID.match(part.replace("_", "")):
            raise RecordingRefused(f"not a safe key part: {part!r}")
    if extension not in AUDIO_FORMATS:
        raise RecordingRefused(f"not an audio format: {extension!r}")
    return f"recordings/{schema}/{call_sid}/{recording_sid}{extension}"


def audio_extension(head: bytes) -> str:
    """What the fetched audio is, from its first bytes: a RIFF/WAVE file, else Twilio's MP3."""
    return ".wav" if head[:4] == b"RIFF" and head[8:12] == b"WAVE" else ".mp3"


def download_url(recording_url: str) -> str:
    """The MP3 of a Twilio recording, sent to ``TWILIO_API_BASE_URL`` when set (as the gateway does).

    Only Twilio's API host is fetched: the account's credentials go with the request.
    """
    if not recording_url.startswith(TWILIO_API + "/"):
        raise RecordingRefused(f"not a Twilio recording URL: {recording_url[:100]!r}")
    url = recording_url if recording_url.endswith(AUDIO_FORMATS) else recording_url + ".mp3"
    base = settings.TWILIO_API_BASE_URL
    return base + url[len(TWILIO_API) :] if base else url


def _fetch(url: str, into: tempfile.SpooledTemporaryFile) -> int:
    auth = (settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)
    try:
        with requests.get(url, auth=auth, stream=True, timeout=(5, 30)) as response:
            if response.status_code in (401, 403):
                raise RecordingRefused(f"Twilio refused the credentials ({response.status_code})")
            if response.status_code != 200:
                # 404 right after the callback, or 5xx: Twilio may still be finishing the file.
                raise RecordingNotReady(f"Twilio answered {response.status_code}")
            size = 0
            for chunk in response.iter_content(CHUNK):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise RecordingRefused(f"recording over {MAX_BYTES} bytes")
                into.write(chunk)
    except requests.RequestException as exc:
        raise RecordingNotReady(str(exc)) from exc
    if size == 0:
        raise RecordingNotReady("empty body")
    return size


def store_recording(*, call_id: int) -> str:
    """Fetch a call's recording into the tenant's storage; the stored key (idempotent: kept once).

    Runs in the call's tenant schema (a tenant task); raises ``RecordingNotReady`` to be retried.
    """
    schema = connection.schema_name
    if schema == "public":
        raise RuntimeError("store_recording runs inside a client company's schema")
    call = Call.objects.get(pk=call_id)
    if not call.recording_sid or not call.recording_url:
        raise RecordingRefused(f"call {call.call_sid} has no recording")
    stored = {
        recording_key(schema=schema, call_sid=call.call_sid, recording_sid=call.recording_sid, extension=ext)
        for ext in AUDIO_FORMATS
    }
    if call.recording_key in stored and default_storage.exists(call.recording_key):
        return call.recording_key
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as audio:
        size = _fetch(download_url(call.recording_url), audio)
        audio.seek(0)
        extension = audio_extension(audio.read(12))  # Twilio may hand over WAV (and a simulator does)
        audio.seek(0)
        key = recording_key(
            schema=schema, call_sid=call.call_sid, recording_sid=call.recording_sid, extension=extension
        )
        if default_storage.exists(key):  # a half-finished earlier run: replace it
            default_storage.delete(key)
        saved = default_storage.save(key, File(audio, name=key))
    if saved != key:
        raise RuntimeError(f"storage saved {saved!r} instead of {key!r}")
    Call.objects.filter(pk=call.pk).update(recording_key=key)
    add_event(call, "recording_stored", dedupe=f"recording_stored:{call.recording_sid}", key=key, bytes=size)
    log.info("recording %s of call %s stored (%d bytes)", call.recording_sid, call.call_sid, size)
    return key


def recording_response(call: Call) -> FileResponse:
    """Stream a call's stored recording to someone already allowed to hear it (404 if not stored)."""
    prefix = f"recordings/{connection.schema_name}/"
    if not call.recording_key.startswith(prefix) or not default_storage.exists(call.recording_key):
        raise Http404("This call's recording is not stored (yet).")
    wav = call.recording_key.endswith(".wav")
    response = FileResponse(
        default_storage.open(call.recording_key, "rb"),
        content_type="audio/wav" if wav else "audio/mpeg",
        as_attachment=False,
        filename=f"{call.call_sid}{'.wav' if wav else '.mp3'}",
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
