"""An outbound preview call in a real browser: the card, Dial (key C), hold (key H), opt-out, the script."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import threading
import time

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from accounts.models import Role
from outbound import dialer
from outbound.control import campaign_control
from outbound.models import Campaign, DoNotCall
from scripts_engine.models import Disposition, Script, ScriptAnswer, ScriptVersion
from telephony.calls.models import Call
from telephony.models import Queue, Skill
from telephony.operators import profile_for
from telephony.simulator.outbound_side import Callee
from telephony.simulator.twilio_side import Profile, Twilio
from tests.conftest import make_user, open_console_available, ports
from tests.e2e.test_simulated_calls import _fresh_company
from tests.outbound.kit import add_contact
from tests.outbound.test_outbound_e2e import SURVEY
from tests.telephony.helpers import CERTIFIED_UNTIL

pytestmark = [pytest.mark.browser, pytest.mark.slow]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = os.environ.get("SCREENSHOT_DIR", "/tmp")
CALLEE = "+12025550791"


def _twilio_in_background(stop: threading.Event) -> threading.Thread:
    """The simulator answers the platform's REST calls (calls.create, updates) until ``stop``."""

    async def run() -> None:
        async with Twilio(
            base_url=f"http://{settings.PLATFORM_HOST}:{ports().web}", connect=f"127.0.0.1:{ports().web}",
            auth_token=settings.TWILIO_AUTH_TOKEN, rng=random.Random(5), rest_port=ports().twilio_rest,
            profile=Profile(), callee=Callee(max_talk=120.0),
        ):  # fmt: skip
            while not stop.is_set():
                await asyncio.sleep(0.1)

    thread = threading.Thread(target=lambda: asyncio.run(run()), daemon=True)
    thread.start()
    return thread


def _preview_campaign(company, number: str) -> Campaign:
    queue = Queue.objects.get(tenant=company)
    with tenant_context(company):
        Disposition.objects.get_or_create(code="survey_done", defaults={"label": "Survey done"})
        script = Script.objects.create(name="Phone survey", purpose="outbound")
        ScriptVersion.objects.create(script=script, number=1, graph=SURVEY, state=ScriptVersion.State.ACTIVE)
        campaign = Campaign.objects.create(
            name="Preview survey", script=script, queue_id=queue.pk, queue_name=queue.name, caller_id=number,
            mode="preview", window_start=dt.time(0, 0), window_end=dt.time(23, 59, 59),
            window_days=[0, 1, 2, 3, 4, 5, 6],
        )  # fmt: skip
        add_contact(campaign, CALLEE, fields={"first_name": "Pat"})
        campaign_control(campaign=campaign, action="start", now=timezone.now())
    return campaign


def test_an_operator_previews_dials_holds_opts_out_and_walks_the_survey(
    committed, tenants, asgi_server, celery_worker, page
):
    company, number = _fresh_company()
    campaign = _preview_campaign(company, number)
    operator = make_user(None, role=Role.OPERATOR, first_name="Olga", last_name="Dialer")
    profile = profile_for(operator)
    Skill.objects.create(
        operator=profile, queue=Queue.objects.get(tenant=company), tier=1, certified_until=CERTIFIED_UNTIL
    )
    stop = threading.Event()
    twilio = _twilio_in_background(stop)
    try:
        page.on("dialog", lambda dialog: dialog.accept())
        open_console_available(page, asgi_server, operator)
        # Available, or already past it: the worker can reserve the operator for the preview
        # within milliseconds, before the page has painted "Available".
        available = page.locator("#state", has_text="Available")
        try:
            available.or_(page.locator("#pop-kind", has_text="read the card")).first.wait_for()
        except PlaywrightTimeout as late:
            shown = {k: page.locator(k).inner_text() for k in ("#state", "#link", "#error")}
            raise AssertionError(f"the console never showed Available nor the card: {shown}") from late

        deadline = time.monotonic() + 20
        while profile.state != "on_call":  # the worker reserves them; beat's tick, played here, too
            dialer.unscoped_dial_pass(operator_ids=[profile.pk])
            profile.refresh_from_db()
            assert time.monotonic() < deadline, f"no outbound task for the operator ({profile.state})"
            time.sleep(0.3)

        page.locator("#pop-kind", has_text="read the card").wait_for()
        assert page.locator("#outbound-campaign").inner_text().startswith("Preview survey")
        assert "Attempt 1 of 3" in page.locator("#outbound-attempt").inner_text()
        assert CALLEE in page.locator("#pop-contact").inner_text()
        page.locator("#step .say", has_text="Hello Pat").wait_for()  # the script's first step
        assert page.locator("#dial").is_visible() and page.locator("#next").is_disabled()
        page.screenshot(path=f"{SHOTS}/console-outbound-preview.png", full_page=True)

        page.keyboard.press("c")  # Dial
        page.locator("#pop-kind", has_text="On the line (outbound)").wait_for()
        assert page.locator("#preview-actions").is_hidden()
        page.keyboard.press("h")  # hold
        page.locator("#hold", has_text="Take back from hold").wait_for()
        page.keyboard.press("h")  # and back
        page.locator("#hold[aria-pressed='false']").wait_for()
        page.get_by_role("button", name="Do not call again (opt-out)").click()

        page.get_by_role("button", name="Next").click()  # the greeting was said
        page.get_by_role("radio", name="4", exact=True).check()
        page.get_by_role("button", name="Next").click()
        page.get_by_role("radio", name="yes", exact=True).check()
        page.get_by_role("button", name="Next").click()
        page.locator("#step", has_text="End of the script").wait_for()
        assert page.get_by_label("Disposition").input_value() == "survey_done"
        page.screenshot(path=f"{SHOTS}/console-outbound-call.png", full_page=True)
        page.get_by_role("button", name="Finish call").click()
        page.locator("#idle").wait_for()
        assert page.locator("#error").is_hidden(), page.locator("#error").inner_text()
    finally:
        stop.set()
        twilio.join(timeout=30)
    with tenant_context(company):
        call = Call.objects.get(direction="outbound", to_number=CALLEE)
        assert call.disposition == "survey_done" and call.answered_at and call.wrapup_ended_at
        assert [e for e in call.events.values_list("kind", flat=True) if e in ("hold", "unhold")] == [
            "hold",
            "unhold",
        ]
        answers = dict(
            ScriptAnswer.objects.filter(session=call.script_session).values_list("node_id", "value")
        )
        assert answers == {"rating": "4", "recommend": True}
        assert DoNotCall.objects.filter(phone=CALLEE, source="opt_out").exists()
        assert campaign.contacts.get(phone=CALLEE).state == "opted_out"
