"""A person who forgot the password, in real headless Chromium: asks for a link on the company's
host, follows it, chooses a new password and logs in with it (the mailed link itself is checked in
tests/accounts/test_password_reset.py; here it is made the same way, the server's mail being local)."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tenants.utils import tenant_context

from accounts.models import Role, User
from tests.conftest import make_user

pytestmark = pytest.mark.browser
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = os.environ.get("SCREENSHOT_DIR", "/tmp")


def test_forgotten_password_is_reset_by_e_mail_link_on_the_company_host(
    committed, tenants, asgi_server, page
):
    user = make_user(tenants.alpha, role=Role.CLIENT_EDITOR, first_name="Fay", last_name="Forgetful")
    page.goto(asgi_server.url(tenants.alpha, "/login/"))
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_role("heading", name="Reset your password for Alpha Ltd").wait_for()
    page.get_by_label("Email").fill(user.email)
    page.get_by_role("button", name="Send the link").click()
    page.get_by_role("heading", name="Check your e-mail").wait_for()
    page.screenshot(path=f"{SHOTS}/password-reset-sent.png", full_page=True)

    with tenant_context(tenants.alpha):
        fresh = User.objects.get(pk=user.pk)
        token = default_token_generator.make_token(fresh)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    page.goto(asgi_server.url(tenants.alpha, f"/reset/{uid}/{token}/"))
    page.fill("#id_new_password1", "a-fresh-start-2026")
    page.fill("#id_new_password2", "a-fresh-start-2026")
    page.get_by_role("button", name="Save password").click()
    page.wait_for_url("**/login/")
    assert "Your password is saved" in page.inner_text("main")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("a-fresh-start-2026")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Alpha Ltd").wait_for()

    page.goto(asgi_server.url(tenants.alpha, f"/reset/{uid}/{token}/"))  # used once: refused kindly
    assert "already been used or has expired" in page.inner_text("main")
