"""A person in a real browser: logs in on a tenant host and sees the live portal."""

from __future__ import annotations

import os
import uuid

import pytest

from accounts.models import Role
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.browser
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop


def _log_in(page, url: str, username: str) -> None:
    page.goto(url + "login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_client_user_logs_in_on_the_tenant_host_and_sees_the_live_portal(
    committed, tenants, asgi_server, page
):
    user = make_user(tenants.alpha, role=Role.CLIENT_ADMIN, first_name="Ann", last_name="Lee")
    _log_in(page, asgi_server.url(tenants.alpha), user.username)

    page.get_by_role("heading", name="Alpha Ltd").wait_for()
    # The WebSocket greeted us: the "Online now" list shows ourselves.
    page.locator("#online li", has_text="Ann Lee").wait_for()
    page.screenshot(path=os.environ.get("SCREENSHOT_DIR", "/tmp") + "/portal-home.png")

    page.goto(asgi_server.url(tenants.beta))  # another company's host: not logged in there
    assert "/login/" in page.url
    assert "Log in to Beta GmbH" in page.content()


def test_wrong_password_is_refused_with_a_message(committed, tenants, asgi_server, page):
    user = make_user(tenants.alpha, role=Role.CLIENT_VIEWER)
    page.goto(asgi_server.url(tenants.alpha, "/login/"))
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text().startswith("Please enter a correct username and password")


def test_the_portals_online_list_shows_who_was_there_first_and_who_leaves(
    committed, tenants, asgi_server, page, browser
):
    tag = uuid.uuid4().hex[:6]  # other tests' portal pages may be open meanwhile: this test's people
    ann, bob = f"Ann {tag}", f"Bob {tag}"
    first = make_user(tenants.alpha, role=Role.CLIENT_ADMIN, first_name="Ann", last_name=tag)
    later = make_user(tenants.alpha, role=Role.CLIENT_VIEWER, first_name="Bob", last_name=tag)
    _log_in(page, asgi_server.url(tenants.alpha), first.username)
    page.locator("#online li", has_text=ann).wait_for()

    context = browser.new_context()
    other = context.new_page()
    other.set_default_timeout(15_000)
    _log_in(other, asgi_server.url(tenants.alpha), later.username)
    other.locator("#online li", has_text=bob).wait_for()
    other.locator("#online li", has_text=ann).wait_for()  # who was there before the page opened
    page.locator("#online li", has_text=bob).wait_for()
    context.close()  # Bob closes his browser
    page.locator("#online li", has_text=bob).wait_for(state="detached")
    assert [name for name in page.locator("#online li").all_inner_texts() if tag in name] == [ann]
