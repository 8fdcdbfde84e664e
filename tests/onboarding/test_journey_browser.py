"""The whole onboarding journey in a real headless Chromium against the real ASGI server."""

from __future__ import annotations

import datetime
import os
import re
from pathlib import Path

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.invitations import invitation_link
from accounts.models import Role, User
from telephony.models import PhoneNumber
from tenants.catalogue import seed_catalogue
from tenants.models import Client, FirstInvoice, Order, Service
from tests.conftest import PASSWORD, make_user
from tests.onboarding.helpers import add_numbers, unique_slug

# Playwright's sync API runs an event loop in this thread; the ORM calls here are plain and sequential.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = os.environ.get("SCREENSHOT_DIR", "/tmp")


def test_the_public_pages_the_journey_starts_from_render(db, tenants):
    """Also makes pytest-django set up the test database when this module runs alone."""
    from tests.conftest import http

    seed_catalogue()
    for path in ("/", "/services/", "/order/"):
        assert http(None).get(path).status_code == 200


def _log_in(page, url: str, username: str, password: str) -> None:
    page.goto(url)
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")


def test_order_to_active_client_in_the_browser(on_test_database, tenants, asgi_server, page):
    seed_catalogue()
    add_numbers(3)
    slug = unique_slug()
    manager = make_user(None, role=Role.ACCOUNT_MANAGER, first_name="Mia", last_name="Manager")

    # 1. The prospect orders on the public site.
    page.goto(asgi_server.url(None, "/services/"))
    assert page.locator("text=Inbound hotline").first.is_visible()
    page.click("text=Order these services")
    for code in ("inbound", "ivr", "recording"):
        page.check(f"input[name=services][value='{Service.objects.get(code=code).pk}']")
    page.fill("#id_legal_name", f"Journey {slug} GmbH")
    page.fill("#id_registration_number", "HRB 998877")
    page.fill("#id_tax_number", "DE999888777")
    page.fill("#id_address", "Hauptstrasse 1\n10115 Berlin")
    page.fill("#id_portal_slug", slug)
    page.fill("#id_contact_first_name", "Jana")
    page.fill("#id_contact_last_name", "Journey")
    page.fill("#id_contact_email", f"jana@{slug}.example")
    page.fill("#id_contact_phone", "+49 30 1234567")
    page.fill("#id_calls_per_month", "4000")
    page.fill("#id_peak_hour_calls", "900000")  # a mistake first: the form says what is wrong
    page.select_option("#id_coverage", "24x7")
    page.select_option("#id_time_zone", "Europe/Berlin")
    page.fill("#id_start_date", (timezone.localdate() + datetime.timedelta(days=14)).isoformat())
    page.check("input[name=languages][value=de]")
    page.check("input[name=languages][value=en]")
    page.click("#submit-order")
    assert page.locator("#id_peak_hour_calls_error").is_visible()
    page.screenshot(path=f"{SHOTS}/onboarding-order-errors.png", full_page=True)
    assert not Order.objects.filter(portal_slug=slug).exists()
    page.fill("#id_peak_hour_calls", "90")
    page.click("#submit-order")
    page.wait_for_url(re.compile(r"/order/thanks/"))
    assert f"{slug}.localhost" in page.inner_text("main")
    order = Order.objects.get(portal_slug=slug)

    # 2. The account manager drafts, edits and sends the contract.
    _log_in(page, asgi_server.url(None, "/login/?next=/staff/orders/"), manager.username, PASSWORD)
    page.click(f"text=Journey {slug} GmbH")
    page.click("text=Draft the contract")
    page.wait_for_url(re.compile(r"/staff/contracts/\d+/$"))
    page.fill("#id_notice_days", "45")
    page.fill("#id_body", "Operators introduce themselves as the Journey service desk.")
    page.click("#save-version")
    assert "Saved as version 2" in page.inner_text("main")
    page.click("#send")
    assert "Version 2 sent" in page.inner_text("main")
    page.screenshot(path=f"{SHOTS}/onboarding-contract-backoffice.png", full_page=True)
    client = Client.objects.get(slug=slug)
    assert client.status == "prospect"

    # 3. The contact follows the invitation link, chooses a password and accepts.
    with tenant_context(client):
        invited = User.objects.get(email=order.contact_email)
        link = invitation_link(user=invited, host=f"{client.host}:{asgi_server.port}", secure=False)
    page.goto(link)
    page.fill("#id_new_password1", "a-long-journey-2026")
    page.fill("#id_new_password2", "a-long-journey-2026")
    page.click("main button[type=submit]")
    _log_in(page, asgi_server.url(client, "/login/?next=/contract/"), invited.username, "a-long-journey-2026")
    page.click("text=Version 2")
    assert "Journey service desk" in page.inner_text("main")
    assert "45 days" in page.inner_text("main")
    page.screenshot(path=f"{SHOTS}/onboarding-contract-portal.png", full_page=True)
    page.check("input[name=confirm]")
    page.click("#accept")
    assert "is accepted" in page.inner_text("main")

    # 4. The portal shows the first invoice: amount, due date, bank details, reference, PDF.
    invoice = FirstInvoice.objects.get(contract=order.contract)
    page.goto(asgi_server.url(client, "/contract/"))
    section = page.inner_text("#first-invoice")
    for expected in (f"{invoice.total} EUR", invoice.payment_reference, invoice.bank["iban"],
                     f"{invoice.due_on:%Y-%m-%d}", "Awaiting payment"):  # fmt: skip
        assert expected in section, expected
    with page.expect_download() as download:
        page.click("text=Download invoice")
    assert Path(download.value.path()).read_bytes() == bytes(invoice.pdf)
    page.screenshot(path=f"{SHOTS}/onboarding-first-invoice-portal.png", full_page=True)

    # 5. The account manager records a partial payment: a balance stays due, the service waits.
    page.goto(asgi_server.url(None, f"/staff/contracts/{order.contract.pk}/"))
    page.fill("#id_amount", "100.00")
    page.fill("#id_paid_on", timezone.localdate().isoformat())
    page.fill("#id_reference", f"SEPA-{slug}-1")
    page.click("#record-payment")
    assert f"{invoice.total - 100} EUR still due" in page.inner_text("main")
    client.refresh_from_db()
    assert client.status == "prospect"
    page.goto(asgi_server.url(client, "/"))
    assert f"{invoice.total - 100} EUR due" in page.inner_text("main")

    # 6. Then the rest (the form offers the balance): paid in full, the client goes live.
    page.goto(asgi_server.url(None, f"/staff/contracts/{order.contract.pk}/"))
    assert page.input_value("#id_amount") == str(invoice.total - 100)
    page.fill("#id_paid_on", timezone.localdate().isoformat())
    page.fill("#id_reference", f"SEPA-{slug}-2")
    page.click("#record-payment")
    assert f"invoice {invoice.number} is paid" in page.inner_text("main")
    page.screenshot(path=f"{SHOTS}/onboarding-payments-backoffice.png", full_page=True)
    client.refresh_from_db()
    assert client.status == "active"
    number = PhoneNumber.objects.get(tenant=client)

    # 7. The portal on its own host shows the live service and its number.
    page.goto(asgi_server.url(client, "/numbers/"))
    assert number.number in page.inner_text("main")
    assert "In service" in page.inner_text("main")
    page.screenshot(path=f"{SHOTS}/onboarding-portal-numbers.png", full_page=True)
    page.goto(asgi_server.url(client, "/"))
    assert "Active" in page.inner_text("main")
    page.goto(asgi_server.url(None, f"/staff/orders/{order.pk}/"))
    assert "client.provisioned" in page.inner_text("main")
    page.screenshot(path=f"{SHOTS}/onboarding-order-backoffice.png", full_page=True)
