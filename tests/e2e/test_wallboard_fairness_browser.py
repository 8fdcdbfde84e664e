"""Issue 20 in a real browser: a supervisor's wallboard shows each company's target, service level
and seats, and which company the router favours now and why, pushed live by the socket."""

from __future__ import annotations

import os
import uuid

import pytest
from django.utils import timezone

from accounts.models import Role
from telephony.models import OperatorProfile, Queue, WaitingCall
from tests.conftest import browser_log_in, make_user
from tests.telephony.test_fairness_routing import history, on_call, waiting

pytestmark = pytest.mark.browser
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop


def test_the_wallboard_shows_the_contracts_and_who_the_router_favours(committed, tenants, asgi_server, page):
    tag = uuid.uuid4().hex[:6]
    # Calls other committed tests left in line would compete for "who goes next": out of line.
    WaitingCall.objects.filter(state__in=["waiting", "reserved"]).update(state="left")
    alpha = Queue.objects.create(tenant=tenants.alpha, name=f"Care {tag}", reserved_seats=2, max_seats=4)
    beta = Queue.objects.create(tenant=tenants.beta, name=f"Sales {tag}", sl_target_percent=90)
    try:
        now = timezone.now()
        history(tenants.alpha, alpha, now, within=9, late=1)
        history(tenants.beta, beta, now, within=3, late=7)
        on_call(tenants.alpha, alpha, now, seats=2)
        waiting(tenants.alpha, alpha, 5, now)
        waiting(tenants.beta, beta, 12, now)
        supervisor = make_user(None, role=Role.SUPERVISOR)
        browser_log_in(page, asgi_server, supervisor)
        page.goto(asgi_server.url(None, "/wallboard/"))
        page.get_by_role("heading", name="Contracts: who the router favours").wait_for()
        # Alpha's reservation is met (2 of 2 seats in use): Beta, furthest behind its 90 %, goes next.
        next_one = "The next free operator goes to"
        page.get_by_text(f"{next_one} Beta GmbH / Sales {tag}: furthest behind").wait_for(timeout=30_000)
        row = page.locator(f'#contracts tr[data-queue="{beta.pk}"]')
        assert "90 % in 20 s" in row.inner_text() and "By target" in row.inner_text()
        assert "▶" in row.inner_text()
        care = page.locator(f'#contracts tr[data-queue="{alpha.pk}"]').inner_text()
        assert "Alpha Ltd" in care and "80 % in 20 s" in care and "\t2\t2\t4\t" in care
        # One of Alpha's calls ends: its reservation is unmet, and the next snapshot says so.
        WaitingCall.objects.filter(queue=alpha, state="bridged").first().delete()
        page.get_by_text(f"{next_one} Alpha Ltd / Care {tag}: uses 1 of its 2 reserved").wait_for(
            timeout=30_000
        )
        shot = os.environ.get("SCREENSHOT_DIR", "/tmp") + "/wallboard-contracts.png"
        page.screenshot(path=shot, full_page=True)
    finally:
        ours = WaitingCall.objects.filter(queue__in=[alpha, beta])
        operators = list(ours.exclude(operator=None).values_list("operator_id", flat=True))
        ours.delete()
        OperatorProfile.objects.filter(pk__in=operators).delete()
        alpha.delete()
        beta.delete()
