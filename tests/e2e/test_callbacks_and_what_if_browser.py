"""In a real browser: a client's viewer reads the callbacks owed (due now, then done, with each
try's outcome); a supervisor types figures into the staffing what-if beside the forecast."""

from __future__ import annotations

import datetime as dt
import os
import random

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Role
from reporting import staffing
from telephony.calls.models import Callback
from tenants.clients import client_create
from tenants.models import Client
from tests.conftest import PASSWORD, make_user
from tests.factories import CallbackFactory, CallEventFactory, CallFactory

pytestmark = pytest.mark.browser
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = os.environ.get("SCREENSHOT_DIR", "/tmp")


def _log_in(page, url: str, username: str) -> None:
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_viewer_reads_due_and_done_callbacks_with_their_tries(committed, tenants, asgi_server, page):
    slug = f"cb-{random.randrange(10**8)}"
    company = client_create(slug=slug, name=f"Callbacks {slug}", status=Client.Status.ACTIVE)
    now = timezone.now()
    with tenant_context(company):
        CallbackFactory(phone="+12025550111", due_at=now - dt.timedelta(minutes=3), attempts=1)
        done = CallbackFactory(phone="+12025550122", state=Callback.State.DONE, attempts=1)
        placed = CallFactory(outbound=True, try_of=done)
        CallEventFactory(call=placed, kind="outbound_task", data={"task": "callback", "callback": done.pk})
        CallEventFactory(call=placed, kind="callback_result", data={"outcome": "answered", "state": "done"})
    viewer = make_user(company, role=Role.CLIENT_VIEWER)
    _log_in(page, asgi_server.url(company, "/login/?next=/callbacks/"), viewer.username)
    page.get_by_role("heading", name="Callbacks").wait_for()
    assert page.get_by_role("row", name="+12025550111").is_visible()
    assert page.get_by_role("row", name="+12025550122").count() == 0
    page.get_by_role("link", name="Done (1)").click()
    row = page.get_by_role("row", name="+12025550122")
    row.wait_for()
    assert "answered" in row.inner_text()
    page.screenshot(path=f"{SHOTS}/portal-callbacks.png", full_page=True)


def test_a_supervisor_works_out_a_what_if_beside_the_forecast(committed, tenants, asgi_server, page):
    supervisor = make_user(None, role=Role.SUPERVISOR)
    _log_in(page, asgi_server.url(None, "/login/?next=/backoffice/reports/staffing/"), supervisor.username)
    page.get_by_role("heading", name="What if…").wait_for()
    page.get_by_label("Calls per 15 minutes").fill("40")
    page.get_by_label("Handling time (AHT, s)").fill("240")
    page.get_by_label("Patience (s)").fill("90")
    page.get_by_role("button", name="Work it out").click()
    want = staffing.agents_needed(
        calls=40, interval_seconds=900, aht_seconds=240, target_sl=0.8, threshold_seconds=20
    )
    assert page.locator("#whatif-needed").inner_text() == str(want.agents)
    assert page.locator("#whatif-table tr.needed td").first.inner_text() == str(want.agents)
    page.locator("#staffing").wait_for()  # the forecast is still there
    page.screenshot(path=f"{SHOTS}/staffing-what-if.png", full_page=True)
