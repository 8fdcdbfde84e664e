"""Recordings as the simulated Twilio keeps them: the status callback's fields, and the media.

Every recording the simulator reports is served at its ``RecordingUrl`` (with ``.wav`` or
``.mp3`` appended, as Twilio's are) as the same short generated WAV (``audio.recording_wav``):
the simulator cannot encode MP3, so it answers an ``.mp3`` request with WAV and says so in its
``Content-Type``, and the platform stores and plays what it was given.
"""

from __future__ import annotations

import uuid

from aiohttp import web

from telephony.simulator.audio import recording_wav

ACCOUNT = "AC" + "0" * 32
API = "https://api.twilio.com"


class Recordings:
    def __init__(self) -> None:
        self.issued: set[str] = set()

    def completed(self, *, call_sid: str, seconds: float, **fields: str) -> dict[str, str]:
        """The fields of a "completed" recording status callback for ``call_sid``."""
        sid = "RE" + uuid.uuid4().hex
        self.issued.add(sid)
        return {
            "AccountSid": ACCOUNT,
            "CallSid": call_sid,
            "RecordingSid": sid,
            "RecordingUrl": f"{API}/2010-04-01/Accounts/{ACCOUNT}/Recordings/{sid}",
            "RecordingStatus": "completed",
            "RecordingDuration": str(max(1, round(seconds))),
            "RecordingChannels": "1",
            **fields,
        }

    async def media(self, request: web.Request) -> web.Response:
        sid, _, extension = request.match_info["name"].partition(".")
        if sid not in self.issued or extension not in ("", "wav", "mp3"):
            return web.json_response(
                {"code": 20404, "message": "The requested resource was not found", "status": 404}, status=404
            )
        return web.Response(body=recording_wav(), content_type="audio/wav")
