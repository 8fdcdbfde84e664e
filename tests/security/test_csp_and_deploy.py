"""A Content-Security-Policy without 'unsafe-inline' on every page (and pages that live with it), no
technical error pages in production, and a production configuration `check --deploy` finds clean."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from accounts.models import Role
from tests.conftest import PASSWORD, ROOT, child_env, http, logged_in, make_user

TEMPLATE_DIRS = [ROOT / "templates", *sorted(ROOT.glob("*/templates"))]


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in header.split(";")) if d}


@pytest.mark.parametrize(
    ("where", "path"),
    [
        ("platform", "/"),
        ("platform", "/login/"),
        ("platform", "/admin/login/"),
        ("platform", "/order/"),
        ("alpha", "/login/"),
        ("alpha", "/api/v1/docs/"),
        ("alpha", "/no-such-page/"),
    ],
)
def test_every_page_carries_a_content_security_policy_without_unsafe_inline(db, tenants, where, path):
    response = http(tenants.alpha if where == "alpha" else None).get(path)
    assert response.status_code in {200, 404}
    directives = policy(response)
    assert directives["script-src"] == ["'self'"]
    if path != "/api/v1/docs/":  # Swagger UI styles its elements inline: that page alone allows it
        assert "'unsafe-inline'" not in directives["style-src"]
    assert directives["default-src"] == ["'self'"] and directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"] and directives["base-uri"] == ["'self'"]


def test_a_companys_brand_colour_is_an_inline_style_the_policy_allows_by_its_nonce(db, tenants):
    page = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_ADMIN)).get("/")
    nonce = re.search(
        r'<style nonce="([^"]+)">body \{ --brand: #[0-9a-fA-F]{6}; \}</style>', page.content.decode()
    )
    assert nonce is not None
    assert f"'nonce-{nonce[1]}'" in policy(page)["style-src"]


def test_no_template_has_an_inline_script_an_event_handler_or_a_style_attribute():
    found = []
    for folder in TEMPLATE_DIRS:
        for template in folder.rglob("*.html"):
            text = template.read_text()
            for pattern in (
                r"<script(?![^>]*\bsrc=)[^>]*>",
                r"\son[a-z]+\s*=",
                r"\sstyle\s*=",
                r"javascript:",
            ):
                found += [f"{template.relative_to(ROOT)}: {m[0]}" for m in re.finditer(pattern, text)]
    assert found == []


def _settings_in_a_process_of_its_own(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); from django.conf import settings; {code}"],
        env={**child_env(), "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )


def test_the_browser_phone_adds_twilios_signalling_and_sounds_to_the_policy_only_when_it_is_on():
    code = "import json; print(json.dumps(settings.CONTENT_SECURITY_POLICY['DIRECTIVES'], default=repr))"
    on = _settings_in_a_process_of_its_own({"DJANGO_ENV": "test", "TWILIO_SOFTPHONE": "1"}, code)
    assert on.returncode == 0, on.stderr.decode()[-1500:]
    directives = json.loads(on.stdout.decode().strip().splitlines()[-1])
    assert (
        "wss://*.twilio.com" in directives["connect-src"]
        and "https://eventgw.twilio.com" in directives["connect-src"]
    )
    assert "https://sdk.twilio.com" in directives["media-src"]
    assert "twilio" not in json.dumps(
        settings.CONTENT_SECURITY_POLICY["DIRECTIVES"], default=repr
    )  # off here


def production_env(**more: str) -> dict[str, str]:
    return {
        "DJANGO_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "TWILIO_AUTH_TOKEN": "x" * 32,
        **more,
    }


def test_production_refuses_to_start_with_debug_on():
    done = _settings_in_a_process_of_its_own(production_env(DJANGO_DEBUG="1"), "print(settings.DEBUG)")
    assert done.returncode != 0
    assert "DJANGO_DEBUG must be off when DJANGO_ENV=production" in done.stderr.decode()


def test_the_production_configuration_passes_check_deploy():
    env = {**child_env(), "DJANGO_SETTINGS_MODULE": "config.settings", **production_env()}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the browser tests of this process
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    output = (done.stdout + done.stderr).decode()
    assert done.returncode == 0, output[-3000:]
    assert "System check identified no issues" in output


os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop


def _log_in(page, url: str, username: str) -> None:
    page.goto(url + "login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


@pytest.mark.browser
def test_pages_with_scripts_charts_sockets_and_api_docs_run_under_the_policy_without_violations(
    committed, tenants, asgi_server, page
):
    violations: list[str] = []
    page.on(
        "console",
        lambda m: (
            violations.append(f"{page.url}: {m.text} {m.location}") if "Content Security" in m.text else None
        ),
    )
    admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN, first_name="Cy", last_name="Pol")
    _log_in(page, asgi_server.url(tenants.alpha), admin.username)
    page.locator("#online li", has_text="Cy Pol").wait_for()  # the portal's socket script ran
    page.goto(asgi_server.url(tenants.alpha, "/reports/"))
    page.wait_for_function("document.querySelectorAll('canvas').length > 0")
    page.goto(asgi_server.url(tenants.alpha, "/api/v1/docs/"))
    page.locator(".swagger-ui .info").wait_for()  # Swagger UI set itself up from its own script
    staff = make_user(None, role=Role.PLATFORM_ADMIN, is_staff=True, is_superuser=True)
    _log_in(page, asgi_server.url(), staff.username)
    for path in ["/wallboard/", "/quality/", "/admin/", "/order/"]:
        page.goto(asgi_server.url(path=path))
        page.wait_for_load_state("networkidle")
    path = Path(os.environ.get("SCREENSHOT_DIR", "/tmp")) / "csp-quality.png"
    page.goto(asgi_server.url(path="/quality/"))
    page.screenshot(path=str(path))
    assert violations == []
