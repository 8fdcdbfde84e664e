"""A WebSocket client for tests: talks to the real ASGI server as a given host, with a session."""

from __future__ import annotations

import json
import socket

from websockets.sync.client import ClientConnection, connect


def open_socket(
    port: int, host: str, path: str, session: str | None = None, origin: str | None = None
) -> ClientConnection:
    """Connect to ``ws://host:port/path`` on 127.0.0.1 (no DNS for *.localhost here), from the page's
    own origin unless ``origin`` names another ("" sends none)."""
    headers = {"Origin": f"http://{host}:{port}" if origin is None else origin}
    if not headers["Origin"]:
        del headers["Origin"]
    if session:
        headers["Cookie"] = f"sessionid={session}"
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return connect(f"ws://{host}:{port}{path}", sock=raw, additional_headers=headers, open_timeout=10)


def receive_json(ws: ClientConnection, timeout: float = 10) -> dict:
    return json.loads(ws.recv(timeout=timeout))
