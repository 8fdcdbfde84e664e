"""An operator's shift in a real browser: the simulator calls a company, the console pops, the script
runs; a supervisor's wallboard shows the call waiting, then answered."""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Role
from scripts_engine.models import ScriptAnswer
from telephony.calls.models import Call
from telephony.models import Queue, Skill
from telephony.operators import profile_for
from telephony.simulator.twilio_side import Profile, Twilio
from tests.conftest import browser_log_in, make_user, open_console_available, ports
from tests.e2e.test_simulated_calls import _fresh_company
from tests.factories import CallFactory, ContactFactory
from tests.scripts_engine.conftest import active_script
from tests.telephony.helpers import CERTIFIED_UNTIL

pytestmark = [pytest.mark.browser, pytest.mark.slow]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = os.environ.get("SCREENSHOT_DIR", "/tmp")
CALLER = "+14155550177"


def _place_call(number: str, talk: float, patience: float = 90.0, **profile: float) -> threading.Thread:
    """The simulator plays Twilio for one inbound call, in the background (``profile``: more of the
    simulated Twilio's behaviour, e.g. ``leg_no_answer``)."""

    async def run() -> None:
        async with Twilio(
            base_url=f"http://{settings.PLATFORM_HOST}:{ports().web}", connect=f"127.0.0.1:{ports().web}",
            auth_token=settings.TWILIO_AUTH_TOKEN, rng=random.Random(3), rest_port=ports().twilio_rest,
            profile=Profile(talk=(talk, talk), patience=(patience, patience), wait_turn=0.3, press_key=0.0,
                            **profile),
        ) as twilio:  # fmt: skip
            await twilio.place_call(sid="CA" + os.urandom(16).hex(), to=number, caller=CALLER)

    thread = threading.Thread(target=lambda: asyncio.run(run()), daemon=True)
    thread.start()
    return thread


def _company_with_a_known_caller():
    company, number = _fresh_company()
    active_script(company)
    with tenant_context(company):
        contact = ContactFactory(phone=CALLER, company="Lee & Co")
        CallFactory(
            from_number=CALLER, to_number=number, contact=contact,
            started_at=timezone.now() - timezone.timedelta(days=3), disposition="callback",
            outcome="handled", outcome_at=timezone.now(), operator_name="Olga",
        )  # fmt: skip
    operator = make_user(None, role=Role.OPERATOR, first_name="Oleg", last_name="Petrov")
    Skill.objects.create(
        operator=profile_for(operator),
        queue=Queue.objects.get(tenant=company),
        tier=1,
        certified_until=CERTIFIED_UNTIL,
    )
    return company, number, operator


def _until_bridged(company, number: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with tenant_context(company):
            if Call.objects.filter(to_number=number, from_number=CALLER, answered_at__isnull=False).exists():
                return
        assert time.monotonic() < deadline, "the call was not bridged to the operator"
        time.sleep(0.2)


def _wallboard(browser, server):
    """A supervisor's wallboard, in a browser context of its own."""
    supervisor = make_user(None, role=Role.SUPERVISOR, first_name="Sue", last_name="Visor")
    board = browser.new_context().new_page()
    board.set_default_timeout(15_000)
    browser_log_in(board, server, supervisor)
    board.goto(server.url(None, "/wallboard/"))
    board.locator("#link", has_text="live").wait_for()
    return board


def test_an_operator_takes_a_call_walks_the_script_reloads_and_wraps_up(
    committed, tenants, asgi_server, celery_worker, page, browser
):
    company, number, operator = _company_with_a_known_caller()
    board = _wallboard(browser, asgi_server)
    open_console_available(page, asgi_server, operator)
    page.locator("#state", has_text="Available").wait_for()

    caller = _place_call(number, talk=25.0)
    page.locator("#pop-company", has_text=company.name).wait_for()
    assert "Ann Lee" in page.locator("#pop-contact").inner_text()
    assert "Callback" in page.locator("#pop-history").inner_text()
    assert page.locator("#pop-greeting").inner_text() == "Thank you for calling."
    page.screenshot(path=f"{SHOTS}/console-offer.png", full_page=True)
    row = board.locator("#queues tr", has_text=company.name)
    row.locator("td").nth(2).filter(has_text="1").wait_for()  # the call is waiting (ringing)

    page.keyboard.press("a")
    page.locator("#step .say", has_text="Good day Ann").wait_for()
    _until_bridged(company, number)  # a Celery task bridges the caller; under load it can lag
    page.keyboard.press("n")
    page.get_by_label("delivery status").check()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Answer").fill("12")
    page.keyboard.press("Enter")
    page.locator("#step-error", has_text="expected form").wait_for()

    page.reload()  # mid-call: the console comes back at the same step, with the answers given
    page.locator("#step .say", has_text="order number").wait_for()
    assert "delivery status" in page.locator("#answers").inner_text()
    page.get_by_label("Answer").fill("AB123456")
    page.keyboard.press("Enter")
    page.locator("#step .say", has_text="Look up order AB123456").wait_for()
    page.screenshot(path=f"{SHOTS}/console-call.png", full_page=True)
    page.get_by_role("button", name="Next").click()
    page.locator("#step", has_text="End of the script").wait_for()
    assert page.get_by_label("Disposition").input_value() == "resolved"
    page.get_by_label("Wrap-up note").fill("Parcel arrives tomorrow")
    page.get_by_role("button", name="Finish call").click()
    page.locator("#idle").wait_for()
    page.locator("#state", has_text="Available").wait_for()

    row.locator("td").nth(5).filter(has_text="1").wait_for()  # then answered
    oleg = board.locator("#operators tr", has_text="Oleg Petrov")
    oleg.locator("td").nth(3).filter(has_text="1").wait_for()  # handled today
    board.screenshot(path=f"{SHOTS}/wallboard.png", full_page=True)
    with tenant_context(company):
        call = Call.objects.get(to_number=number, from_number=CALLER, answered_at__isnull=False)
        assert call.disposition == "resolved" and call.wrapup_ended_at is not None
        assert call.events.get(kind="wrap_up").data["note"] == "Parcel arrives tomorrow"
        given = list(ScriptAnswer.objects.filter(session=call.script_session).values_list("node_id", "value"))
        assert given == [("topic", "delivery status"), ("order_no", "AB123456")]
    caller.join(timeout=60)

    # A second company's call: its own brand colour, its own script, the same operator.
    other, other_number = _fresh_company()
    other.brand_color = "#7a1fa8"
    other.save(update_fields=["brand_color"])
    active_script(other, sample="sales", name="Coffee offer")
    Skill.objects.create(
        operator=profile_for(operator),
        queue=Queue.objects.get(tenant=other),
        tier=1,
        certified_until=CERTIFIED_UNTIL,
    )
    second = _place_call(other_number, talk=3.0)
    page.locator("#pop-company", has_text=other.name).wait_for()
    swatch = page.locator("#pop-swatch").evaluate("e => getComputedStyle(e).backgroundColor")
    assert swatch == "rgb(122, 31, 168)"
    assert "First call with this company" in page.locator("#pop-history").inner_text()
    page.keyboard.press("a")
    page.locator("#step .say", has_text="from BeanCo").wait_for()
    assert page.locator("#script-name").inner_text() == "Coffee offer"
    assert page.locator("#error").is_hidden()
    assert page.get_by_label("Disposition").input_value() == ""  # nothing carried over from the last call
    page.screenshot(path=f"{SHOTS}/console-second-company.png", full_page=True)
    second.join(timeout=60)


def test_a_call_the_operators_phone_does_not_answer_leaves_the_console_and_is_offered_again(
    committed, tenants, asgi_server, celery_worker, page
):
    """Twilio reports the operator's leg unanswered: the call goes back in line. The console drops
    the call it was about to show, says why, and rings with the call again (the only operator)."""
    company, number, operator = _company_with_a_known_caller()
    open_console_available(page, asgi_server, operator)
    page.locator("#state", has_text="Available").wait_for()

    caller = _place_call(number, talk=3.0, patience=20.0, leg_no_answer=1.0)
    page.locator("#pop-company", has_text=company.name).wait_for()
    page.keyboard.press("a")
    said = "The call could not be connected (your phone did not answer): it went back in line."
    page.locator("#missed", has_text=said).wait_for()
    page.locator("#offer-actions").wait_for()  # offered again: the call kept its place
    assert page.locator("#pop-kind").inner_text() == "Incoming call"
    assert page.locator("#call").is_hidden()
    page.screenshot(path=f"{SHOTS}/console-call-lost.png", full_page=True)
    with tenant_context(company):
        call = Call.objects.filter(to_number=number, from_number=CALLER).latest("started_at")
        assert call.answered_at is None and call.events.filter(kind="bridge_failed").exists()
    page.get_by_role("button", name="Reject").click()
    caller.join(timeout=60)


def test_a_state_read_begun_before_a_state_push_does_not_overwrite_it(committed, tenants, asgi_server, page):
    """The console reads the operator's state as its socket opens; a state set at once is pushed
    back, possibly before that read's answer arrives: the older answer must not win (the console
    showed Offline for an operator who had just set Available)."""
    operator = make_user(None, role=Role.OPERATOR, first_name="Rita", last_name="Quick")
    held: list[tuple[object, object]] = []

    def hold_the_first_read(route) -> None:  # read now (Offline), answered only later
        if held:
            route.continue_()
        else:
            held.append((route, route.fetch()))

    browser_log_in(page, asgi_server, operator)
    page.route("**/console/state", hold_the_first_read)
    page.goto(asgi_server.url(None, "/console/"))
    page.locator("#link", has_text="connected").wait_for()
    page.get_by_label("Change state").select_option("available")
    page.get_by_role("button", name="Set state").click()
    page.locator("#state", has_text="Available").wait_for()  # the push

    route, stale = held[0]
    assert stale.json()["state"] == "offline"
    with page.expect_event("requestfinished", lambda request: request.url.endswith("/console/state")):
        route.fulfill(response=stale)
    page.wait_for_timeout(500)  # the answer's promise chain runs
    assert page.locator("#state").inner_text() == "Available"
