"""A client editor in a real browser: draft from a sample, a broken edit seen live, fix, test-run, submit."""

from __future__ import annotations

import os
import uuid

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from scripts_engine.samples import load_sample
from tests.conftest import PASSWORD, make_user
from tests.scripts_engine.conftest import seed_lists

pytestmark = pytest.mark.browser
LIVE = 15_000  # ms: the live check is fast, but a busy CI machine is not
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = os.environ.get("SCREENSHOT_DIR", "/tmp")


def _log_in(page, url: str, username: str) -> None:
    page.goto(url + "login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_editor_drafts_edits_sees_live_problems_fixes_test_runs_and_submits(
    committed, tenants, asgi_server, page
):
    seed_lists(tenants.alpha, load_sample("hotline"))
    user = make_user(tenants.alpha, role=Role.CLIENT_EDITOR, first_name="Erin", last_name="Editor")
    name = f"Hotline {uuid.uuid4().hex[:6]}"
    page.set_viewport_size({"width": 1280, "height": 900})
    _log_in(page, asgi_server.url(tenants.alpha), user.username)
    page.get_by_role("heading", name="Alpha Ltd").wait_for()

    page.goto(asgi_server.url(tenants.alpha, "/scripts/"))
    page.get_by_label("Name").fill(name)
    page.get_by_label("The hotline sample").check()
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator("#problem-count")).to_have_text("No problems found.")

    # A broken edit: the problem appears next to the node while typing, before saving.
    page.get_by_role("link", name="Edit hours").click()
    page.locator("#node-form[data-live='on']").wait_for()
    page.get_by_label("Next node").fill("nowhere")
    expect(page.locator("#node-problems")).to_contain_text(
        "leads to 'nowhere', which does not exist", timeout=LIVE
    )
    page.screenshot(path=f"{SHOTS}/script-node-editor.png", full_page=True)
    page.get_by_role("button", name="Save node").click()
    card = page.locator("#node-hours")
    expect(card.locator(".problems")).to_contain_text("leads to 'nowhere'")
    submit = page.get_by_role("button", name="Submit for approval")
    expect(submit).to_be_disabled()
    page.screenshot(path=f"{SHOTS}/script-editor-broken.png", full_page=True)

    # Fix it.
    page.get_by_role("link", name="Edit hours").click()
    page.locator("#node-form[data-live='on']").wait_for()
    page.get_by_label("Next node").fill("goodbye")
    expect(page.locator("#node-ok")).to_be_visible(timeout=LIVE)
    page.get_by_role("button", name="Save node").click()
    expect(page.locator("#problem-count")).to_have_text("No problems found.")

    page.get_by_role("link", name="Diagram").click()
    expect(page.locator("svg.flow g[data-node='to_billing']")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/script-diagram.png", full_page=True)
    page.get_by_role("link", name="Nodes").click()

    # Test-run as an operator: returns → label wanted → e-mail (a wrong one first) → end.
    page.get_by_label("Test contact: first_name").fill("Jane")
    page.get_by_role("button", name="Test-run").click()
    expect(page.locator(".step-text")).to_contain_text("Good day Jane")
    page.get_by_role("button", name="Said it — next").click()
    page.get_by_label("opening hours").check()
    page.get_by_role("button", name="Save answer").click()
    expect(page.locator(".step-text")).to_contain_text("Monday to Friday")
    page.get_by_role("button", name="← Back").click()
    page.get_by_label("returns").check()
    page.get_by_role("button", name="Save answer").click()
    expect(page.locator(".step-text")).to_contain_text("return any item within 30 days")
    page.get_by_role("button", name="Said it — next").click()
    page.get_by_label("Yes").check()
    page.get_by_role("button", name="Save answer").click()
    page.get_by_label("Answer", exact=True).fill("not-an-email")
    page.get_by_role("button", name="Save answer").click()
    expect(page.locator("#answer-error")).to_have_text(
        "Please enter an e-mail address like name@example.com."
    )
    expect(page.get_by_label("Answer", exact=True)).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=f"{SHOTS}/script-testrun.png", full_page=True)
    page.get_by_label("Answer", exact=True).fill("jane@example.com")
    page.get_by_role("button", name="Save answer").click()
    expect(page.locator(".step-text")).to_contain_text("on its way to jane@example.com")
    page.get_by_role("button", name="Said it — next").click()
    expect(page.locator("p.ended")).to_contain_text("disposition resolved")
    expect(page.locator("#answer-log li")).to_have_count(4)
    page.screenshot(path=f"{SHOTS}/script-testrun-end.png", full_page=True)

    page.get_by_role("link", name=f"{name} v1").click()
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.locator("h1 .state")).to_have_text("Submitted for approval")

    # The account manager reviews it on the platform host and puts it on calls.
    manager = make_user(None, role=Role.ACCOUNT_MANAGER, first_name="Max", last_name="Manager")
    _log_in(page, asgi_server.url(None), manager.username)
    page.goto(asgi_server.url(None, "/backoffice/scripts/"))
    page.locator("tr[data-client='alpha']", has_text=name).get_by_role("link").click()
    expect(page.get_by_role("heading", name="Added nodes")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/script-review.png", full_page=True)
    page.get_by_role("button", name="Approve and use on calls").click()
    expect(page.locator(".message")).to_contain_text("approved and active")


def test_another_company_cannot_open_the_editor_by_url(committed, tenants, asgi_server, page):
    alpha_user = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    beta_user = make_user(tenants.beta, role=Role.CLIENT_ADMIN)
    _log_in(page, asgi_server.url(tenants.alpha), alpha_user.username)
    page.goto(asgi_server.url(tenants.alpha, "/scripts/"))
    page.get_by_label("Name").fill(f"Blank {uuid.uuid4().hex[:6]}")
    page.get_by_role("button", name="Create draft").click()
    path = page.url.split(":", 2)[2].split("/", 1)[1]
    _log_in(page, asgi_server.url(tenants.beta), beta_user.username)
    response = page.goto(asgi_server.url(tenants.beta, "/" + path))
    assert response.status == 404
