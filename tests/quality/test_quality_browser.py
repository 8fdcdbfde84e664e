"""A supervisor builds a company's scorecard, scores a recorded call and reads the operator's trend,
in a real browser against the ASGI server."""

from __future__ import annotations

import os
import random

import pytest

from accounts.models import Role
from tenants.clients import client_create
from tenants.models import Client
from tests.conftest import PASSWORD, make_user
from tests.quality.kit import make_call

pytestmark = [pytest.mark.browser, pytest.mark.slow]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = os.environ.get("SCREENSHOT_DIR", "/tmp")


def test_a_supervisor_builds_a_scorecard_and_scores_a_call_by_labels_alone(
    committed, tenants, asgi_server, page
):
    slug = f"qa-{random.randrange(10**8)}"
    company = client_create(slug=slug, name=f"Quality {slug}", status=Client.Status.ACTIVE)
    call = make_call(company, operator_id=31, operator_name="Petra Quality", from_number="+14155550177")
    supervisor = make_user(None, role=Role.SUPERVISOR)

    page.goto(asgi_server.url(None, "/login/?next=/quality/"))
    page.get_by_label("Username").fill(supervisor.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name=company.name).click()
    page.get_by_role("link", name="Scorecard").click()

    page.get_by_label("Criterion (row 1)").fill("Greeting")
    page.get_by_label("Weight (row 1)").fill("3")
    page.get_by_label("Criterion (row 2)").fill("Verified identity")
    page.get_by_label("Type (row 2)").select_option("yes_no")
    page.get_by_role("button", name="Save the scorecard").click()
    page.get_by_text("Scorecard version 1 saved.").wait_for()

    page.get_by_role("link", name="Recordings").click()
    row = page.locator(f"tr[data-call='{call.pk}']")
    assert "+14155550177" in row.inner_text() and "Petra Quality" in row.inner_text()
    row.get_by_role("link", name="Score").click()
    page.get_by_label("Points (0 to 5)").fill("4")
    page.get_by_role("radio", name="Yes").check()
    page.get_by_label("Overall comment").fill("Friendly and clear")
    page.get_by_label("Overall comment").press("Tab")
    page.keyboard.press("Enter")  # the focused submit button, from the keyboard
    page.get_by_text("Score saved.").wait_for()
    # 3 x 4/5 + 1 x 1 = 3.4 of 4 weight
    assert page.get_by_role("heading", name="85.00%").is_visible()
    page.screenshot(path=f"{SHOTS}/quality_score.png", full_page=True)

    page.get_by_role("link", name="Scores per operator").click()
    trend = page.locator("tr[data-operator='31']")
    assert "Petra Quality" in trend.inner_text() and "85.00%" in trend.inner_text()
    page.screenshot(path=f"{SHOTS}/quality_operators.png", full_page=True)
