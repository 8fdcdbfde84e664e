"""The webhooks a caller waits on (``telephony.urls.CALLER_WAITS``), which a deployment may serve on
voice processes of their own: every webhook is on one side or the other, on purpose."""

from __future__ import annotations

import re
from pathlib import Path

from django.urls import resolve

from outbound import urls_twilio
from telephony import urls
from telephony.urls import CALLER_WAITS, caller_wait_paths

# On the web: Twilio's callbacks nobody waits on (answered 204, never with TwiML for a caller), and
# the fallback Twilio asks for when the voice webhook failed (not on the process that failed).
ON_THE_WEB = {
    "status", "recording", "conference", "conference-leg", "conference-recording", "callback/status",
    "outbound/status", "fallback", "fallback-done",
}  # fmt: skip


def _routes() -> set[str]:
    """Every webhook route under /twilio/voice/, the outbound ones included."""
    own = {str(p.pattern) for p in urls.urlpatterns if not str(p.pattern).endswith("/")}
    return own | {"outbound/" + str(p.pattern) for p in urls_twilio.urlpatterns}


def test_every_webhook_is_either_one_a_caller_waits_on_or_stays_on_the_web():
    assert set(CALLER_WAITS) | ON_THE_WEB == _routes()
    assert not set(CALLER_WAITS) & ON_THE_WEB


def test_the_paths_a_proxy_routes_to_the_voice_processes_are_the_platforms_own():
    paths = caller_wait_paths()
    assert "/twilio/voice/incoming" in paths
    assert "/twilio/voice/status" not in paths and "/twilio/voice/fallback" not in paths
    for path in paths:
        assert resolve(path, urlconf="config.urls_public").url_name, path


def test_the_proxy_rule_in_the_docs_routes_exactly_those_webhooks():
    text = (Path(__file__).resolve().parents[2] / "docs" / "scale.md").read_text()
    rule = re.search(r"location ~ \^/twilio/voice/\(([^)]*)\)\$", text)
    assert rule is not None
    assert rule.group(1).split("|") == list(CALLER_WAITS)
