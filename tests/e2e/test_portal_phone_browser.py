"""The portal on a 390 px phone, in real headless Chromium: no page is wider than the screen, and
every item of the main menu can be reached (the top menu was 1,027 px wide and hid Contract,
Scripts, Team and Log out)."""

from __future__ import annotations

import os

import pytest
from django.urls import reverse

from accounts.models import Role
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.browser
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = os.environ.get("SCREENSHOT_DIR", "/tmp")
WIDTH = 390
PORTAL_PAGES = [
    "home", "reports_dashboard", "reports_calls", "reports_invoices", "portal_recordings", "contract",
    "numbers", "script_list", "campaign_list", "team", "webhooks", "api_keys",
]  # fmt: skip


@pytest.fixture
def phone(browser):
    context = browser.new_context(
        viewport={"width": WIDTH, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _fits(page, what: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{what} is {width} px wide on a {WIDTH} px screen"


def _menu_items_reachable(page, what: str) -> list[str]:
    page.get_by_role("button", name="Menu").click()
    items = page.locator("#main-nav a, #main-nav button")
    names = []
    for index in range(items.count()):
        item = items.nth(index)
        box = item.bounding_box()
        assert item.is_visible() and box is not None, f"{what}: menu item {index} is hidden"
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, (
            f"{what}: {item.inner_text()} is off screen"
        )
        names.append(item.inner_text().strip())
    _fits(page, what + " with the menu open")
    return names


def test_every_portal_page_fits_a_phone_and_its_menu_reaches_every_item(
    committed, tenants, asgi_server, phone
):
    admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN, first_name="Pia", last_name="Phone")
    phone.goto(asgi_server.url(tenants.alpha, "/login/"))
    _fits(phone, "the login page")
    phone.get_by_label("Username").fill(admin.username)
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Log in").click()
    phone.get_by_role("heading", name="Alpha Ltd").wait_for()
    for name in PORTAL_PAGES:
        path = reverse(name, urlconf="config.urls_tenant")
        phone.goto(asgi_server.url(tenants.alpha, path))
        _fits(phone, path)
        names = _menu_items_reachable(phone, path)
        for expected in ("Contract", "Scripts", "Team", "API keys", "Log out"):
            assert expected in names, (path, names)
    phone.screenshot(path=f"{SHOTS}/portal-phone-menu.png", full_page=True)
    # The menu works: from the last page, Contract and then Log out by touch.
    phone.get_by_role("link", name="Contract").click()
    phone.get_by_role("heading", name="Your contract").wait_for()
    _menu_items_reachable(phone, "contract")
    phone.get_by_role("button", name="Log out").click()
    phone.wait_for_url("**/login/")
