"""The operator's browser phone: Twilio's Voice SDK (vendored) starts with a token from our server."""

from __future__ import annotations

import os
import sys

import pytest

from accounts.models import Role
from tests.conftest import PASSWORD, UVICORN, _free_port, child_env, make_user, serving

pytestmark = pytest.mark.browser
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop


@pytest.fixture
def softphone_server(committed, tenants):
    """A server of its own with the browser phone on (the session's server has it off)."""
    port = _free_port()
    with serving(
        [sys.executable, *UVICORN, "--port", str(port)], port, {**child_env(), "TWILIO_SOFTPHONE": "1"}
    ) as server:
        yield server


def test_the_console_starts_twilios_voice_sdk_with_the_operators_token(softphone_server, page):
    operator = make_user(None, role=Role.OPERATOR, first_name="Olga")
    page.goto(softphone_server.url(path="/login/"))
    page.get_by_label("Username").fill(operator.username)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_response(lambda r: r.url.endswith("/console/token")) as token:
        page.get_by_role("button", name="Log in").click()
        page.goto(softphone_server.url(path="/console/"))
    assert token.value.status == 200
    assert token.value.json()["identity"] == f"operator-{operator.pk}"
    # The vendored SDK is loaded from our own static files and a Device was made with the token.
    assert page.evaluate("typeof window.Twilio.Device") == "function"
    assert page.evaluate("window.Twilio.Device.version").startswith("2.")
    status = page.locator("#softphone-status")
    page.wait_for_function("document.getElementById('softphone').dataset.state !== undefined")
    # No Twilio here: the phone says it is connecting or why it is offline, never silently nothing.
    text = status.inner_text()
    assert text.startswith(("Phone connecting", "Phone error", "Phone offline")), text
    assert page.get_by_role("button", name="Mute").is_disabled()  # no call yet
