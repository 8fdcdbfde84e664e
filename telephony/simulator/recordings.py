"""Recordings as the simulated Twilio keeps them: the status callback's fields, and the media.

Every recording the simulator reports is served at its ``RecordingUrl`` (with ``.wav`` or
``.mp3`` appended, as Twilio's are) as the same short generated WAV (``audio.recording_wav``):
the simulator cannot encode MP3, so it answers an ``.mp3`` request with WAV and says so in its
``Content-Type``, and the platform stores and plays what it was given.
"""

from __future__ import annotations

import uuid
from email.utils import format_datetime

from aiohttp import web
from django.utils import timezone

from telephony.simulator.audio import recording_wav

ACCOUNT = "AC" + "0" * 32
API = "https://api.twilio.com"


class Recordings:
    def __init__(self) -> None:
        self.issued: dict[str, dict[str, str]] = {}  # RecordingSid → its resource, as Twilio lists it

    def completed(self, *, call_sid: str, seconds: float, **fields: str) -> dict[str, str]:
        """The fields of a "completed" recording status callback for ``call_sid``."""
        sid = "RE" + uuid.uuid4().hex
        self.issued[sid] = {
            "account_sid": ACCOUNT,
            "call_sid": call_sid,
            "sid": sid,
            "status": "completed",
            "duration": str(max(1, round(seconds))),
            "channels": 1,
            "date_created": format_datetime(timezone.now(), usegmt=True),
            "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Recordings/{sid}.json",
        }
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

    async def delete(self, request: web.Request) -> web.Response:
        """``DELETE …/Recordings/{sid}.json``: the recording and its media are gone (retention)."""
        sid = request.match_info["name"].removesuffix(".json")
        if self.issued.pop(sid, None) is None:
            return web.json_response(
                {"code": 20404, "message": "The requested resource was not found", "status": 404}, status=404
            )
        return web.Response(status=204)

    async def listing(self, request: web.Request) -> web.Response:
        """``GET …/Recordings.json``: every recording made, in one page (the reconciliation lists
        them to import any whose callback the platform never got)."""
        uri = f"/2010-04-01/Accounts/{ACCOUNT}/Recordings.json"
        page = {"first_page_uri": uri, "next_page_uri": None, "previous_page_uri": None, "page": 0}
        return web.json_response(
            {
                "recordings": list(self.issued.values()),
                "page_size": 1000,
                "uri": uri,
                "start": 0,
                "end": 0,
                **page,
            }
        )
