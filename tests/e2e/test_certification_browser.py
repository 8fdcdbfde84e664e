"""Certification in a real browser (R14): an operator assigned a company's queue opens the console,
finds the company's quiz, hands it in with a question unanswered (refused with the reason), then
passes; the skill unlocks and the company's calls can reach them."""

from __future__ import annotations

import os
import uuid

import pytest
from django.utils import timezone

from accounts.models import Role
from operations import certification
from operations.models import Certification, CertificationEvent, CertificationQuiz
from telephony.models import OperatorProfile, Skill
from tests.conftest import browser_log_in, make_user
from tests.factories import QueueFactory
from tests.telephony.helpers import at

pytestmark = pytest.mark.browser
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

QUIZ = """? How long may a customer return an order?
- 14 days
+ 30 days

? Which identify the caller?
+ Customer number
+ Postcode
- Favourite colour
"""


def test_an_operator_passes_a_companys_quiz_in_the_console(committed, tenants, asgi_server, page):
    tag = uuid.uuid4().hex[:6]
    queue = QueueFactory(tenant=tenants.beta, name=f"Returns {tag}")
    user = make_user(None, role=Role.OPERATOR, first_name="Quinn", last_name=f"Quiz{tag}")
    operator = OperatorProfile.objects.create(user=user, state="offline", state_since=at(0), idle_since=at(0))
    Skill.objects.create(operator=operator, queue=queue, tier=1)  # assigned, locked until certified
    certification.quiz_save(client=tenants.beta, text=QUIZ, pass_percent=100, by_name="Ann")
    try:
        browser_log_in(page, asgi_server, user)
        page.goto(asgi_server.url(None, "/console/"))
        page.get_by_role("link", name="Certification").click()
        row = page.get_by_role("row", name="Beta GmbH")
        assert "Not certified" in row.inner_text()
        row.get_by_role("link", name="Take the quiz").click()

        page.get_by_label("30 days").check()
        page.get_by_role("button", name="Hand in").click()
        assert page.locator("#quiz-error").inner_text() == "Answer question 2."
        assert Skill.objects.get(operator=operator).certified_until is None

        page.get_by_label("30 days").check()
        page.get_by_label("Customer number").check()
        page.get_by_label("Postcode").check()
        page.get_by_role("button", name="Hand in").click()
        page.locator("#quiz-passed").wait_for()
        assert "You scored 100 %" in page.locator("#quiz-score").inner_text()
        page.screenshot(
            path=os.environ.get("SCREENSHOT_DIR", "/tmp") + "/certification-passed.png", full_page=True
        )

        assert Skill.objects.get(operator=operator).certified_until > timezone.now()
        held = Certification.objects.get(operator=operator, client=tenants.beta)
        assert held.state == "certified" and held.score_percent == 100
        page.get_by_role("link", name="Certification").click()
        assert "Certified" in page.get_by_role("row", name="Beta GmbH").inner_text()
    finally:  # committed rows: leave the session's companies as they were
        CertificationEvent.objects.filter(operator=operator).delete()
        Certification.objects.filter(operator=operator).delete()
        CertificationQuiz.objects.filter(client=tenants.beta).delete()
        Skill.objects.filter(operator=operator).delete()
        queue.delete()
