"""The webhooks a caller waits on (``telephony.urls.CALLER_WAITS``) and Twilio's callbacks nobody
waits on (``CALLBACKS``), which a deployment may serve on voice and hooks processes of their own:
every webhook is on exactly one side, on purpose, and the proxy rule in the docs says the same."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from django.urls import resolve

from config.supervision import at_priority, wsgi_command
from outbound import urls_twilio
from telephony import urls
from telephony.simulator.run import Plan
from telephony.urls import CALLBACKS, CALLER_WAITS, callback_paths, caller_wait_paths

# On the web: the fallback Twilio asks for when the voice webhook failed (never on the process that
# failed), and what it redirects to.
ON_THE_WEB = {"fallback", "fallback-done"}


def _routes() -> set[str]:
    """Every webhook route under /twilio/voice/, the outbound ones included."""
    own = {str(p.pattern) for p in urls.urlpatterns if not str(p.pattern).endswith("/")}
    return own | {"outbound/" + str(p.pattern) for p in urls_twilio.urlpatterns}


def test_every_webhook_is_a_callers_a_callback_or_the_fallback_and_only_one():
    assert set(CALLER_WAITS) | set(CALLBACKS) | ON_THE_WEB == _routes()
    assert len(CALLER_WAITS) + len(CALLBACKS) + len(ON_THE_WEB) == len(_routes())


def test_the_paths_a_proxy_routes_are_the_platforms_own():
    assert "/twilio/voice/incoming" in caller_wait_paths()
    assert "/twilio/voice/status" in callback_paths()
    assert "/twilio/voice/fallback" not in caller_wait_paths() + callback_paths()
    for path in caller_wait_paths() + callback_paths():
        assert resolve(path, urlconf="config.urls_public").url_name, path


def _rule(upstream: str) -> list[str]:
    text = (Path(__file__).resolve().parents[2] / "docs" / "scale.md").read_text()
    rule = re.search(
        r"location ~ \^/twilio/voice/\(([^)]*)\)\$ \{\s*proxy_pass http://" + upstream + ";", text
    )
    assert rule is not None, upstream
    return rule.group(1).split("|")


def test_the_proxy_rules_in_the_docs_route_exactly_those_webhooks():
    assert _rule("voice") == list(CALLER_WAITS)
    assert _rule("hooks") == list(CALLBACKS)


def test_the_simulator_routes_them_as_the_proxy_does():
    plan = Plan(base_url="http://x", connect="web:1", auth_token="t", numbers=[], operators=[],
                voice_connect="voice:2", hooks_connect="hooks:3")  # fmt: skip
    routes = plan.routes()
    assert {path for path, where in routes.items() if where == "voice:2"} == set(caller_wait_paths())
    assert {path for path, where in routes.items() if where == "hooks:3"} == set(callback_paths())
    assert "/twilio/voice/fallback" not in routes  # to ``connect``, the web
    assert Plan(base_url="http://x", connect="web:1", auth_token="t", numbers=[], operators=[]).routes() == {}


def test_the_webhooks_processes_run_the_wsgi_application_without_sockets_within_granians_bound():
    command = wsgi_command("python", "127.0.0.1", 8001)
    assert command[command.index("--interface") + 1] == "wsgi" and command[-1] == "config.wsgi:application"
    assert "--no-ws" in command  # no console reaches them
    threads = int(command[command.index("--blocking-threads") + 1])
    assert 1 <= threads <= 2 * (os.cpu_count() or 1) + 1  # above it, granian warns at start-up
    three = wsgi_command("python", "127.0.0.1", 8001, threads=3)
    assert three[three.index("--blocking-threads") + 1] == "3"


def _niceness(name: str) -> int:
    """The niceness a child ``name`` of ``manage.py run`` runs at, read from a real process."""
    command = at_priority(name, [sys.executable, "-c", "import os; print(os.nice(0))"])
    return int(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def test_the_processes_nobody_waits_on_yield_the_cores_to_those_a_caller_waits_on(settings):
    """Twilio's callbacks, the background worker and beat run at ``BACKGROUND_NICENESS``; the
    webhooks a caller waits on, the consoles and the call path's worker as the platform does."""
    settings.BACKGROUND_NICENESS = 2
    ours = os.nice(0)
    background = f"w-{settings.CELERY_BACKGROUND_QUEUE}"
    assert {name: _niceness(name) for name in ("hooks", background, "beat")} == dict.fromkeys(
        ("hooks", background, "beat"), min(19, ours + 2)
    )
    call_path = f"w-{settings.CELERY_CALL_QUEUE}"
    assert {name: _niceness(name) for name in ("voice", "web", call_path)} == dict.fromkeys(
        ("voice", "web", call_path), ours
    )
    settings.BACKGROUND_NICENESS = 0  # all alike
    assert at_priority("hooks", ["python"]) == ["python"] and _niceness("hooks") == ours
