"""A supervisor in a real browser: the wallboard lists a live call (the simulator plays the caller,
the operator in a browser console), and its Listen, Whisper, Barge and Leave controls work end to end."""

from __future__ import annotations

import os

import pytest
from django_tenants.utils import tenant_context

from accounts.models import Role
from telephony.calls.models import Call
from telephony.models import Monitoring
from tests.conftest import PASSWORD, make_user, open_console_available
from tests.e2e.test_console_browser import _company_with_a_known_caller, _place_call, _until_bridged

pytestmark = [pytest.mark.browser, pytest.mark.slow]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = os.environ.get("SCREENSHOT_DIR", "/tmp")


def _operator_console(browser, server, operator):
    """The operator's console in a browser context of its own, available for calls."""
    console = browser.new_context().new_page()
    console.set_default_timeout(15_000)
    open_console_available(console, server, operator)
    console.locator("#state", has_text="Available").wait_for()
    return console


def test_a_supervisor_listens_whispers_barges_and_leaves_from_the_wallboard(
    committed, tenants, asgi_server, celery_worker, page, browser
):
    company, number, operator = _company_with_a_known_caller()
    console = _operator_console(browser, asgi_server, operator)
    supervisor = make_user(None, role=Role.SUPERVISOR, first_name="Sue", last_name="Visor")
    page.set_default_timeout(15_000)
    page.goto(asgi_server.url(None, "/login/"))
    page.get_by_label("Username").fill(supervisor.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(asgi_server.url(None, "/wallboard/"))
    page.locator("#link", has_text="live").wait_for()

    caller = _place_call(number, talk=20.0)  # the steps below take about 4 s
    console.locator("#pop-company", has_text=company.name).wait_for()
    assert company.name in console.locator("#pop-announcement").inner_text()  # whose call, before the caller
    console.keyboard.press("a")
    _until_bridged(company, number)
    row = page.locator("#live-calls tr", has_text=company.name)
    row.wait_for()
    status = page.locator("#supervision-status")
    row.get_by_role("button", name="Listen").click()
    status.filter(has_text="Listen (muted)").wait_for()
    assert row.get_by_role("button", name="Listen").get_attribute("aria-pressed") == "true"
    row.filter(has_text="Sue Visor (Listen)").wait_for()  # the next snapshot shows who is on the call
    row.get_by_role("button", name="Whisper").click()
    status.filter(has_text="only the operator hears you").wait_for()
    row.get_by_role("button", name="Barge").click()
    status.filter(has_text="caller and operator hear you").wait_for()
    page.screenshot(path=f"{SHOTS}/wallboard-supervision.png", full_page=True)
    page.get_by_role("button", name="Leave the call").click()
    status.filter(has_text="Not monitoring a call.").wait_for()
    assert page.get_by_role("button", name="Leave the call").is_hidden()

    page.get_by_label("My phone number").fill("12345")
    page.get_by_role("button", name="Save number").click()
    status.filter(has_text="E.164").wait_for()  # refused with the reason, nothing saved

    with tenant_context(company):
        call = Call.objects.get(to_number=number, answered_at__isnull=False)
        kinds = list(
            call.events.filter(kind__startswith="supervision_")
            .order_by("pk")
            .values_list("kind", "data__mode")
        )
    assert kinds == [("supervision_start", "listen"), ("supervision_switch", "whisper"),
                     ("supervision_switch", "barge"), ("supervision_stop", "barge")]  # fmt: skip
    assert not Monitoring.objects.filter(supervisor=supervisor, ended_at=None).exists()
    caller.join(timeout=90)
