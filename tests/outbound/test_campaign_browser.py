"""A client admin in a real browser: creates a campaign, imports a messy list, sees the rejected
rows, starts and pauses it, and adds a number to the do-not-call list."""

from __future__ import annotations

import os
import random
import uuid

import phonenumbers
import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from accounts.models import Role
from outbound.models import Campaign, CampaignContact
from tests.conftest import PASSWORD, make_user
from tests.outbound.kit import active_script, tenant_queue_and_number

pytestmark = pytest.mark.browser
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = os.environ.get("SCREENSHOT_DIR", "/tmp")


def valid_us_number() -> str:
    while True:
        text = f"+1646{random.randrange(200, 999)}{random.randrange(1000, 9999)}"
        if phonenumbers.is_valid_number(phonenumbers.parse(text)):
            return text


def test_admin_creates_imports_starts_and_pauses_a_campaign(committed, tenants, asgi_server, page, tmp_path):
    queue, number = tenant_queue_and_number(tenants.alpha)
    with tenant_context(tenants.alpha):
        script = active_script("survey")
    user = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    name = f"Spring survey {uuid.uuid4().hex[:6]}"
    first, second = valid_us_number(), valid_us_number()
    national = phonenumbers.format_number(phonenumbers.parse(first), phonenumbers.PhoneNumberFormat.NATIONAL)
    listing = tmp_path / "list.csv"
    listing.write_bytes(
        (
            f"Phone,First name,Shop\n{national},Zoë,North\nnot a number,Bob,\n"
            f"{second},Ann,South\n{first},,East\n"
        ).encode("cp1252")
    )

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(asgi_server.url(tenants.alpha, "/login/"))
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="New campaign").click()

    page.get_by_label("Name").fill(name)
    page.get_by_label("Script").select_option(label=script.name)
    page.get_by_label("Queue").select_option(label=queue.name)
    page.get_by_label("Caller ID").select_option(number)
    page.get_by_label("Default time zone").fill("America/New_York")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()

    page.get_by_label("Contact list (CSV or XLSX)").set_input_files(str(listing))
    page.get_by_role("button", name="Upload and choose columns").click()
    expect(page.get_by_label("Phone number")).to_have_value("0")
    page.get_by_role("button", name="Import").click()
    expect(page.locator("[data-figure=created]")).to_have_text("2")
    expect(page.locator("[data-figure=merged]")).to_have_text("1")
    expect(page.locator("table.data")).to_contain_text("not a number")
    page.screenshot(path=f"{SHOTS}/outbound-import-result.png", full_page=True)
    page.get_by_role("link", name="Back to the campaign").click()

    page.get_by_role("button", name="Start").click()
    expect(page.locator("[data-state]")).to_have_text("Running")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("[data-state]")).to_have_text("Paused")
    page.screenshot(path=f"{SHOTS}/outbound-campaign.png", full_page=True)

    page.get_by_role("link", name="All campaigns").click()
    page.get_by_role("link", name="Do-not-call list").click()
    page.get_by_label("Phone number").fill(national)
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("table.data")).to_contain_text(first)

    with tenant_context(tenants.alpha):
        campaign = Campaign.objects.get(name=name)
        assert campaign.state == "paused"
        states = dict(CampaignContact.objects.filter(campaign=campaign).values_list("phone", "state"))
        assert states == {first: "dnc", second: "pending"}
        assert CampaignContact.objects.get(campaign=campaign, phone=first).fields == {"Shop": "North"}
