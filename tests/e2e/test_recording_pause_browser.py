"""PCI pause and who heard what, in a real browser: the operator pauses the call's recording from
the console (the simulated Twilio takes the update), reloads (still paused, said so), resumes; the
company's staff then play the recording and read who did in the portal's access log."""

from __future__ import annotations

import os
import time

import pytest
from django_tenants.utils import tenant_context

from accounts.models import Role
from telephony.calls.models import Call, TelephonySettings
from telephony.models import Queue, Skill
from telephony.operators import profile_for
from tests.conftest import browser_log_in, make_user
from tests.e2e.test_console_browser import CALLER, _place_call, _until_bridged
from tests.e2e.test_simulated_calls import _fresh_company
from tests.telephony.helpers import CERTIFIED_UNTIL

pytestmark = [pytest.mark.browser, pytest.mark.slow]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = os.environ.get("SCREENSHOT_DIR", "/tmp")


def _kinds(company, number: str) -> list[str]:
    with tenant_context(company):
        call = Call.objects.get(to_number=number, from_number=CALLER)
        return list(call.events.filter(kind__startswith="recording_").values_list("kind", flat=True))


def _until(check, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def test_the_operator_pauses_for_card_data_and_the_company_sees_who_heard_the_recording(
    committed, tenants, asgi_server, celery_worker, page, browser
):
    company, number = _fresh_company()
    with tenant_context(company):
        settings = TelephonySettings.current()
        settings.record_calls = True
        settings.save(update_fields=["record_calls"])
    operator = make_user(None, role=Role.OPERATOR, first_name="Oleg", last_name="Petrov")
    Skill.objects.create(
        operator=profile_for(operator), queue=Queue.objects.get(tenant=company), tier=1,
        certified_until=CERTIFIED_UNTIL,
    )  # fmt: skip
    browser_log_in(page, asgi_server, operator)
    page.goto(asgi_server.url(None, "/console/"))
    page.locator("#link", has_text="connected").wait_for()
    page.get_by_label("Change state").select_option("available")
    page.get_by_role("button", name="Set state").click()
    page.locator("#state", has_text="Available").wait_for()

    caller = _place_call(number, talk=20.0)
    page.locator("#pop-company", has_text=company.name).wait_for()
    page.keyboard.press("a")
    _until_bridged(company, number)
    pause = page.get_by_role("button", name="Pause recording (card data)")
    pause.wait_for()
    assert page.locator("#recording-status").inner_text() == "Recording."
    pause.click()
    page.locator("#recording-status", has_text="Recording paused since").wait_for()
    assert page.get_by_role("button", name="Resume recording").get_attribute("aria-pressed") == "true"
    page.screenshot(path=f"{SHOTS}/console-recording-paused.png", full_page=True)

    page.reload()  # the console comes back to a paused call: still paused, and the events say so
    page.locator("#recording-status", has_text="Recording paused since").wait_for()
    _until(lambda: "recording_still_paused" in _kinds(company, number), timeout=15)
    page.get_by_role("button", name="Resume recording").click()
    page.locator("#recording-status", has_text="Recording.").wait_for()
    assert _kinds(company, number) == ["recording_paused", "recording_still_paused", "recording_resumed"]
    caller.join(timeout=60)

    def stored() -> bool:
        with tenant_context(company):
            return Call.objects.filter(to_number=number).exclude(recording_key="").exists()

    _until(stored)
    with tenant_context(company):
        call = Call.objects.get(to_number=number, from_number=CALLER)

    # The company's staff play the recording, see where it was paused, and read who heard it.
    staff = make_user(company, role=Role.CLIENT_ADMIN, username="cora")
    portal = browser.new_context().new_page()
    portal.set_default_timeout(15_000)
    browser_log_in(portal, asgi_server, staff, company)
    portal.goto(asgi_server.url(company, f"/reports/calls/{call.pk}/"))
    pauses = portal.locator("#pauses").inner_text()  # the company sees "Oleg P.", never a login name
    assert "by Oleg P." in pauses and "resumed by Oleg P." in pauses and operator.username not in pauses
    played = portal.evaluate(
        "async () => { const a = document.querySelector('#recording-title ~ audio');"
        " a.muted = true; await a.play(); return a.currentSrc; }"
    )
    assert played.endswith(f"/recordings/{call.pk}/audio")
    portal.goto(asgi_server.url(company, "/recordings/access-log/"))
    row = portal.locator("#accesses tbody tr").first
    row.wait_for()
    assert "Played" in row.inner_text() and "cora" in row.inner_text() and call.call_sid in row.inner_text()
    portal.get_by_label("Action").select_option("download")
    portal.get_by_role("button", name="Filter").click()
    portal.locator("#accesses", has_text="Nobody has played or downloaded").wait_for()
    portal.screenshot(path=f"{SHOTS}/portal-recording-access.png", full_page=True)

    other = make_user(tenants.beta, role=Role.CLIENT_ADMIN, username="bob")
    beta = browser.new_context().new_page()
    browser_log_in(beta, asgi_server, other, tenants.beta)
    beta.goto(asgi_server.url(tenants.beta, "/recordings/access-log/"))
    assert call.call_sid not in beta.locator("main").inner_text()
