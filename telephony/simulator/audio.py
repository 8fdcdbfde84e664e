"""The audio the simulated Twilio serves as a recording's media: a short generated WAV.

A few seconds of a two-tone chime over soft noise, 8 kHz mono 16-bit PCM (what a phone line
carries), made with the standard library so a demo's recordings play in any browser.
"""

from __future__ import annotations

import functools
import io
import math
import random
import struct
import wave

RATE = 8000


@functools.cache
def recording_wav(seconds: float = 3.0) -> bytes:
    """A valid WAV file of ``seconds`` of audio (the same bytes every time)."""
    rng = random.Random(21)
    frames = bytearray()
    for n in range(int(seconds * RATE)):
        t = n / RATE
        tone = 440.0 if int(t * 2) % 2 == 0 else 554.37  # alternates every half second
        envelope = min(1.0, t * 20, (seconds - t) * 20)  # no click at either end
        sample = 0.3 * math.sin(2 * math.pi * tone * t) * envelope + rng.uniform(-0.02, 0.02)
        frames += struct.pack("<h", int(max(-1.0, min(1.0, sample)) * 32767))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(frames))
    return buffer.getvalue()
