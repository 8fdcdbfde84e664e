"""A client admin uploads hold music: an MP3 or WAV file checked by parsing it, at most the size in
``HOLD_MUSIC_MAX_BYTES``; the settings point at it and Twilio fetches it from the company's host."""

from __future__ import annotations

import io
import math
import struct
import wave

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from accounts.models import Role
from telephony.calls.models import TelephonySettings
from tenants.models import AuditEvent
from tests.conftest import http, logged_in, make_user


def tone(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A real WAV file: a 440 Hz tone."""
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        frames = (int(8000 * math.sin(2 * math.pi * 440 * n / rate)) for n in range(int(rate * seconds)))
        audio.writeframes(b"".join(struct.pack("<h", f) for f in frames))
    return out.getvalue()


@pytest.fixture
def admin(db, tenants, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_ADMIN))


def _upload(client, name: str, content: bytes):
    return client.post("/service/hold-music/", {"hold_music": SimpleUploadedFile(name, content)})


def test_an_uploaded_wav_becomes_the_hold_music_twilio_fetches(admin, tenants):
    content = tone()
    assert _upload(admin, "jingle.wav", content).status_code == 302
    with tenant_context(tenants.alpha):
        url = TelephonySettings.current().hold_music_url
    assert url.startswith(f"http://{tenants.alpha.host}/service/hold-music/") and url.endswith(".wav")
    path = url.split(tenants.alpha.host, 1)[1]
    served = http(tenants.alpha).get(path)  # Twilio: no login
    assert served.status_code == 200 and served["Content-Type"] == "audio/wav"
    assert b"".join(served.streaming_content) == content
    assert http(tenants.beta).get(path).status_code == 404  # not another company's address
    event = AuditEvent.objects.get(client=tenants.alpha, action="service.settings")
    assert event.after["hold_music_url"] == url and event.after["hold_music_seconds"] == 1.0

    assert _upload(admin, "second.wav", tone(2.0)).status_code == 302
    assert http(tenants.alpha).get(path).status_code == 404  # the old address stops serving


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("song.mp3", b"this is not audio at all" * 10, "Upload an MP3 or WAV recording."),
        ("song.wav", b"RIFF\x00\x00\x00\x00WAVEjunk", "not an MP3 or WAV recording that can be read"),
        ("page.html", b"<html><script>alert(1)</script></html>", "Upload an MP3 or WAV recording."),
    ],
)
def test_what_is_not_audio_is_refused_and_changes_nothing(admin, tenants, name, content, message):
    with tenant_context(tenants.alpha):
        before = TelephonySettings.current().hold_music_url
    response = _upload(admin, name, content)
    assert response.status_code == 400 and message in response.content.decode()
    with tenant_context(tenants.alpha):
        assert TelephonySettings.current().hold_music_url == before


def test_a_file_over_the_limit_is_refused(admin, settings):
    settings.HOLD_MUSIC_MAX_BYTES = 4096
    response = _upload(admin, "long.wav", tone(1.0))
    assert response.status_code == 400 and "larger than 4.0\xa0KB" in response.content.decode()


def test_only_admins_upload_hold_music(db, tenants):
    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_EDITOR))
    assert _upload(viewer, "jingle.wav", tone()).status_code == 403
