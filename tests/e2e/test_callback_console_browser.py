"""A callback that keeps the caller's place, on a real operator's console: the offer says it is a
callback and which number the platform calls; on accept the person is called back (the simulator
plays them) and the operator talks to them, then wraps up."""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from accounts.models import Role
from telephony.calls.models import Callback
from telephony.models import Queue, Skill, WaitingCall
from telephony.operators import profile_for
from telephony.simulator.twilio_side import Profile, Twilio
from tests.conftest import make_user, open_console_available, ports
from tests.e2e.test_simulated_calls import _fresh_company
from tests.scripts_engine.conftest import active_script
from tests.telephony.helpers import CERTIFIED_UNTIL, make_operator

pytestmark = [pytest.mark.browser, pytest.mark.slow]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = os.environ.get("SCREENSHOT_DIR", "/tmp")
CALLER = "+14155550188"


def _twilio_until(done: threading.Event, number: str) -> threading.Thread:
    """The simulator: one caller who keeps their place with a callback, then the REST side (the
    dial-back, the person called back, the conference) until ``done``."""

    async def run() -> None:
        async with Twilio(
            base_url=f"http://{settings.PLATFORM_HOST}:{ports().web}", connect=f"127.0.0.1:{ports().web}",
            auth_token=settings.TWILIO_AUTH_TOKEN, rng=random.Random(5), rest_port=ports().twilio_rest,
            profile=Profile(talk=(4.0, 4.0), patience=(90.0, 90.0), wait_turn=0.3, press_key=1.0,
                            want_callback=1.0),
        ) as twilio:  # fmt: skip
            await twilio.place_call(sid="CA" + os.urandom(16).hex(), to=number, caller=CALLER)
            while not done.is_set():
                await asyncio.sleep(0.2)

    thread = threading.Thread(target=lambda: asyncio.run(run()), daemon=True)
    thread.start()
    return thread


def _until(check, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_the_console_offers_a_kept_place_callback_with_its_number_and_the_person_is_called_back(
    committed, tenants, asgi_server, celery_worker, page
):
    company, number = _fresh_company()
    active_script(company)  # the operator's part of it runs on the callback, with its dispositions
    queue = Queue.objects.get(tenant=company)
    make_operator({queue: 1}, state="wrap_up")  # the queue is staffed, nobody free: the caller waits
    operator = make_user(None, role=Role.OPERATOR, first_name="Cora", last_name="Back")
    Skill.objects.create(operator=profile_for(operator), queue=queue, tier=1, certified_until=CERTIFIED_UNTIL)
    done = threading.Event()
    twilio = _twilio_until(done, number)
    try:
        _until(
            lambda: WaitingCall.objects.filter(tenant=company, kind="callback").exists(), "no callback kept"
        )

        open_console_available(page, asgi_server, operator)

        page.locator("#pop-kind", has_text="Callback (place kept)").wait_for()
        kept = page.locator("#pop-callback").inner_text()
        assert CALLER in kept and "try 1 of 3" in kept
        assert page.locator("#pop-company").inner_text() == company.name
        page.screenshot(path=f"{SHOTS}/console-callback-offer.png", full_page=True)
        page.keyboard.press("a")
        page.locator("#call").wait_for()
        assert page.locator("#pop-kind").inner_text() == "Callback (place kept)"
        page.locator("#step .say").first.wait_for()  # the script, from the operator's part
        with tenant_context(company):
            callback = Callback.objects.get(phone=CALLER)

        def done_at_twilio() -> bool:
            with tenant_context(company):
                return Callback.objects.get(pk=callback.pk).state == Callback.State.DONE

        _until(done_at_twilio, "the person was not called back and served", timeout=45.0)
        page.locator("#call-live", has_text="wrap it up").wait_for()
        page.get_by_label("Disposition").select_option(index=1)
        page.get_by_role("button", name="Finish call").click()
        page.locator("#idle").wait_for()
        with tenant_context(company):
            callback.refresh_from_db()
            assert (callback.state, callback.attempts) == ("done", 1)
    finally:
        done.set()
        twilio.join(timeout=30)
