"""Closing a client company in real headless Chromium: the account manager gives a reason and
confirms; the company's admin sees the read-only banner and downloads the data export."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tenants.models import Client
from tests.conftest import PASSWORD
from tests.onboarding.helpers import accept, add_numbers, contact, manager, pay, sent_contract

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop here
pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = os.environ.get("SCREENSHOT_DIR", "/tmp")


def _log_in(page, url: str, username: str) -> None:
    page.goto(url)
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")


def test_close_with_reason_and_confirmation_then_the_admin_downloads_the_export(
    on_test_database, tenants, asgi_server, page
):
    add_numbers(1)
    by = manager()
    contract, client = sent_contract(by=by)
    accept(contract)
    pay(contract, by)
    admin = contact(client)

    _log_in(page, asgi_server.url(None, f"/login/?next=/staff/clients/{client.pk}/"), by.username)
    dialogs: list[str] = []

    def answer(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss() if len(dialogs) == 1 else dialog.accept()

    page.on("dialog", answer)
    page.fill("#close-reason", "Notice given, contract ends")
    page.click("#close")  # the first time the account manager thinks again
    client.refresh_from_db()
    assert client.status == Client.Status.ACTIVE and dialogs[0].startswith(f"Close {client.name}?")
    page.click("#close")
    page.wait_for_selector("#exports")
    client.refresh_from_db()
    assert client.status == Client.Status.CLOSED
    page.screenshot(path=f"{SHOTS}/closing-backoffice.png", full_page=True)

    _log_in(page, asgi_server.url(client, "/login/"), admin.username)
    assert "read-only" in page.inner_text("#closed-banner")
    page.click("#closed-banner a")
    with page.expect_download() as download:
        page.click("#exports a")
    document = json.loads(Path(download.value.path()).read_text())
    assert document["client"]["slug"] == client.slug
    page.screenshot(path=f"{SHOTS}/closing-portal-export.png", full_page=True)
