"""Operations pages in a real browser: a supervisor decides who will serve a company's queue, then
changes one operator's tier and plans a shift, without the Django admin."""

from __future__ import annotations

import os
import uuid

import pytest

from accounts.models import Role
from operations.models import Shift
from telephony.models import OperatorProfile, Skill
from tests.conftest import PASSWORD, make_user
from tests.factories import QueueFactory
from tests.telephony.helpers import at

pytestmark = pytest.mark.browser
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop


def _operator(first: str, last: str) -> OperatorProfile:
    user = make_user(None, role=Role.OPERATOR, first_name=first, last_name=last)
    return OperatorProfile.objects.create(user=user, state="offline", state_since=at(0), idle_since=at(0))


def test_a_supervisor_grants_a_team_a_queue_then_edits_one_operator(committed, tenants, asgi_server, page):
    tag = uuid.uuid4().hex[:6]
    queue = QueueFactory(tenant=tenants.beta, name=f"Bookings {tag}")
    olga, omar = _operator("Olga", f"Ops{tag}"), _operator("Omar", f"Ops{tag}")
    supervisor = make_user(None, role=Role.SUPERVISOR)
    page.goto(asgi_server.url(None, "/login/"))
    page.get_by_label("Username").fill(supervisor.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.get_by_role("link", name="Operations").click()
    page.get_by_role("heading", name="Operators").wait_for()
    page.get_by_role("link", name="Beta GmbH").click()
    page.get_by_role("heading", name="Who serves Beta GmbH").wait_for()
    page.get_by_label("Queue").select_option(label=f"Beta GmbH · Bookings {tag}")
    page.get_by_label(f"Olga Ops{tag}").check()
    page.get_by_label(f"Omar Ops{tag}").check()
    page.get_by_role("button", name="Grant").click()
    page.get_by_text("2 operator(s) now serve Beta GmbH").wait_for()
    row = page.get_by_role("row", name=f"Bookings {tag}")
    assert f"Olga Ops{tag} (1)" in row.inner_text() and f"Omar Ops{tag} (1)" in row.inner_text()

    row.get_by_role("link", name=f"Olga Ops{tag}").click()
    page.get_by_label("Company and queue").select_option(label=f"Beta GmbH · Bookings {tag}")
    page.get_by_label("Tier").fill("2")
    page.get_by_label("Languages for this queue").fill("de, en")
    page.get_by_role("button", name="Save skill").click()
    page.get_by_text(f"Beta GmbH · Bookings {tag}: tier 2.").wait_for()
    page.get_by_label("Starts").fill("2030-01-07T08:00")
    page.get_by_label("Ends").fill("2030-01-07T16:00")
    page.get_by_label("Breaks (minutes)").fill("30")
    page.get_by_role("button", name="Plan shift").click()
    page.get_by_text("Shift planned.").wait_for()
    page.screenshot(
        path=os.environ.get("SCREENSHOT_DIR", "/tmp") + "/operations-operator.png", full_page=True
    )

    assert dict(Skill.objects.filter(queue=queue).values_list("operator_id", "tier")) == {
        olga.pk: 2,
        omar.pk: 1,
    }
    assert Skill.objects.get(queue=queue, operator=olga).languages == ["de", "en"]
    assert Shift.objects.get(operator=olga).break_minutes == 30
