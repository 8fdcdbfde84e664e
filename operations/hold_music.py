"""A client company's own hold music: an uploaded MP3 or WAV file, checked by parsing it (mutagen),
kept in the company's storage prefix and served to Twilio at an unguessable address of the
company's host; the settings' ``hold_music_url`` points there from the next call on."""

from __future__ import annotations

import secrets
from typing import IO

import mutagen
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.template.defaultfilters import filesizeformat
from mutagen.mp3 import MP3
from mutagen.wave import WAVE

from telephony.calls.models import TelephonySettings
from tenants.audit import record_event

KINDS = {MP3: "mp3", WAVE: "wav"}
CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav"}
LONGEST_SECONDS = 15 * 60


def storage_key(token: str, extension: str) -> str:
    """Where a company's hold music file lives: under its schema's prefix."""
    return f"{connection.schema_name}/hold-music/{token}.{extension}"


def check_audio(upload: IO[bytes], *, size: int) -> tuple[str, float]:
    """(extension, seconds) of an MP3 or WAV file; anything else, too long or too large is refused."""
    if size > django_settings.HOLD_MUSIC_MAX_BYTES:
        raise ValidationError(
            f"The file is larger than {filesizeformat(django_settings.HOLD_MUSIC_MAX_BYTES)}."
        )
    try:
        audio = mutagen.File(upload)
    except mutagen.MutagenError as error:
        raise ValidationError("The file is not an MP3 or WAV recording that can be read.") from error
    finally:
        upload.seek(0)
    kind = KINDS.get(type(audio))
    if kind is None or audio.info is None or not audio.info.length:
        raise ValidationError("Upload an MP3 or WAV recording.")
    if audio.info.length > LONGEST_SECONDS:
        raise ValidationError("Hold music may last at most 15 minutes.")
    return kind, float(audio.info.length)


def hold_music_set(*, upload: IO[bytes], size: int, url_for: object, by: object) -> str:
    """Store the checked file and point the company's hold music at it; returns the new address.
    ``url_for(token, extension)`` gives the absolute address the file is served at."""
    extension, seconds = check_audio(upload, size=size)
    token = secrets.token_urlsafe(24)
    key = default_storage.save(storage_key(token, extension), File(upload, name=f"{token}.{extension}"))
    url = url_for(token, extension)
    try:
        with transaction.atomic():
            TelephonySettings.current()
            current = TelephonySettings.objects.select_for_update().get(pk=1)
            before = current.hold_music_url
            current.hold_music_url = url
            current.save()
            record_event(
                actor=by, action="service.settings", obj=connection.tenant, client=connection.tenant,
                before={"hold_music_url": before},
                after={"hold_music_url": url, "hold_music_seconds": round(seconds, 1)},
            )  # fmt: skip
    except Exception:
        default_storage.delete(key)
        raise
    return url


def served_file(token: str, extension: str) -> File | None:
    """The company's current hold music file for this token, else None (an old or unknown token)."""
    if extension not in CONTENT_TYPES or not token.replace("-", "").replace("_", "").isalnum():
        return None
    current = TelephonySettings.current().hold_music_url
    if not current.endswith(f"/{token}.{extension}"):
        return None
    key = storage_key(token, extension)
    return default_storage.open(key, "rb") if default_storage.exists(key) else None
