"""A client admin sets up the service in a real browser: hours per weekday, holidays imported from
an ICS calendar, the greeting and after-hours behaviour, a specialist for transfers; a mistake is
shown beside its field and changes nothing."""

from __future__ import annotations

import os
import random

import pytest
from django_tenants.utils import tenant_context

from accounts.models import Role
from scripts_engine.models import Specialist
from telephony.calls.models import TelephonySettings
from tenants.clients import client_create
from tenants.models import AuditEvent, Client
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.browser
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//\r\nBEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Christmas\r\n"
    b"DTSTART;VALUE=DATE:20261225\r\nDTEND;VALUE=DATE:20261227\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_a_client_admin_sets_hours_holidays_greeting_and_a_specialist(
    committed, tenants, asgi_server, page, tmp_path
):
    slug = f"svc-{random.randrange(10**8)}"
    company = client_create(slug=slug, name=f"Acme {slug}", status=Client.Status.ACTIVE)
    admin = make_user(company, role=Role.CLIENT_ADMIN, first_name="Ada", last_name="Admin")
    page.goto(asgi_server.url(company, "/login/"))
    page.get_by_label("Username").fill(admin.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Service", exact=True).click()
    page.get_by_role("heading", name="Service settings").wait_for()

    page.get_by_label("Open 24 hours").uncheck()
    page.get_by_label("Monday").fill("09:00-18:00")
    page.get_by_label("Tuesday").fill("18:00-09:00")
    page.get_by_role("button", name="Save service settings").click()
    page.get_by_text("Tuesday: 18:00-09:00 ends before it starts.").wait_for()

    page.get_by_label("Tuesday").fill("09:00-12:00, 13:00-17:00")
    page.get_by_label("Greeting").fill("Welcome to Service Ltd.")
    page.locator("#id_after_hours").select_option("callback")
    calendar = tmp_path / "holidays.ics"
    calendar.write_bytes(ICS)
    page.get_by_label("Import holidays from a calendar").set_input_files(str(calendar))
    page.get_by_role("button", name="Save service settings").click()
    page.get_by_text("Service settings saved").wait_for()
    assert page.get_by_label("Holidays (closed all day)").input_value() == "2026-12-25\n2026-12-26"

    page.get_by_label("Key").fill("billing_desk")
    page.get_by_label("Name").fill("Billing desk")
    page.get_by_label("Number").fill("+4930123456")
    page.get_by_role("button", name="Save specialist").click()
    page.get_by_role("row", name="billing_desk Billing desk +4930123456").wait_for()
    page.screenshot(path=os.environ.get("SCREENSHOT_DIR", "/tmp") + "/service-settings.png", full_page=True)

    with tenant_context(company):
        settings = TelephonySettings.current()
        assert settings.business_hours == {
            "0": [["09:00", "18:00"]],
            "1": [["09:00", "12:00"], ["13:00", "17:00"]],
        }
        assert (settings.greeting, settings.after_hours) == ("Welcome to Service Ltd.", "callback")
        assert Specialist.objects.get(key="billing_desk").phone == "+4930123456"
    assert AuditEvent.objects.filter(client=company, action__startswith="service.").count() == 2
