"""Recorded calls and a local stand-in for Twilio's recording media, for the quality tests."""

from __future__ import annotations

import base64
import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.conf import settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from telephony.calls.models import Call
from tests.factories import CallFactory

# The first bytes of an MP3 file (an ID3v2 header), then some payload.
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 8


def make_call(tenant, *, recorded: bool = True, **fields) -> Call:
    """A finished call of ``tenant`` handled by Olga in Support, ten minutes ago (recorded unless told
    otherwise): what a supervisor scores."""
    values = {
        "started_at": timezone.now() - dt.timedelta(minutes=10),
        "status": Call.Status.COMPLETED,
        "from_number": "+14155550100",
        "operator_id": 7,
        "operator_name": "Olga Operator",
        "queue_id": 1,
        "queue_name": "Support",
    }
    with tenant_context(tenant):
        return CallFactory(recorded=recorded, **(values | fields))


@dataclass
class MediaServer:
    """Serves ``MP3`` for any path ending in .mp3 to requests with the account's basic auth."""

    url: str
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Authorization)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer first, one per request


@contextmanager
def media_server() -> Iterator[MediaServer]:
    expected = (
        "Basic "
        + base64.b64encode(f"{settings.TWILIO_ACCOUNT_SID}:{settings.TWILIO_AUTH_TOKEN}".encode()).decode()
    )
    state = MediaServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append((self.path, self.headers.get("Authorization", "")))
            if state.fail_next:
                self.send_response(state.fail_next.pop(0))
                self.end_headers()
                return
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.end_headers()
                return
            if not self.path.endswith(".mp3"):
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "audio/mpeg")
            self.send_header("Content-Length", str(len(MP3)))
            self.end_headers()
            self.wfile.write(MP3)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
