"""Outbound against the real stack: the simulator plays Twilio, callers, callees and operators."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from outbound import dialer
from outbound.control import campaign_control
from outbound.models import Campaign
from scripts_engine.models import Disposition, Script, ScriptAnswer, ScriptVersion
from telephony import gateway
from telephony.calls.models import Call
from telephony.models import OperatorProfile, PhoneNumber, Queue, WaitingCall
from telephony.simulator.operators import Behaviour
from telephony.simulator.outbound_side import Callee
from telephony.simulator.run import Plan, simulate_outbound
from telephony.simulator.setup import simulated_operators
from telephony.simulator.twilio_side import Profile
from tenants.clients import client_create
from tenants.models import Client
from tests.conftest import ports, run_async
from tests.outbound.kit import add_contact

pytestmark = pytest.mark.slow

SURVEY = json.loads((Path(__file__).parent / "phone_survey.json").read_text())
# What each person answers when the operator asks (rating, recommend); two more do not talk.
PEOPLE = {
    "+12025550701": ("5", "yes"),
    "+12025550702": ("4", "yes"),
    "+12025550703": ("5", "no"),
    "+12025550704": ("2", "no"),
}
BUSY, MACHINE = "+12025550705", "+12025550706"


def _company() -> tuple[Client, str, Queue]:
    slug = f"out-{random.randrange(10**8)}"
    company = client_create(slug=slug, name=f"Outbound {slug}", status=Client.Status.ACTIVE)
    number = f"+1555{random.randrange(10**6, 10**7)}"
    PhoneNumber.objects.create(number=number, tenant=company, state=PhoneNumber.State.ASSIGNED)
    queue = Queue.objects.create(tenant=company, is_default=True, name="Main")
    return company, number, queue


def _campaign(company: Client, number: str, queue: Queue) -> Campaign:
    import datetime as dt

    with tenant_context(company):
        Disposition.objects.get_or_create(code="survey_done", defaults={"label": "Survey done"})
        script = Script.objects.create(name="Phone survey", purpose="outbound")
        ScriptVersion.objects.create(script=script, number=1, graph=SURVEY, state=ScriptVersion.State.ACTIVE)
        campaign = Campaign.objects.create(
            name="Autumn survey", kind="survey", script=script, queue_id=queue.pk, queue_name=queue.name,
            caller_id=number, mode="progressive", window_start=dt.time(0, 0), window_end=dt.time(23, 59, 59),
            window_days=[0, 1, 2, 3, 4, 5, 6], max_attempts=1, amd_enabled=True, machine_action="message",
            machine_message="Hello, this is Alpha. We will call again.",
        )  # fmt: skip
        for phone in [*PEOPLE, BUSY, MACHINE]:
            add_contact(campaign, phone, fields={"first_name": "Pat"})
        campaign_control(campaign=campaign, action="start", now=timezone.now())
    return campaign


def _profile_ids(operators: list[tuple[str, str]]) -> list[int]:
    """The simulated operators' profiles: dial passes are narrowed to them, so a test never takes
    the operators of a concurrent test (they share the database)."""
    names = [name for name, _ in operators]
    return list(OperatorProfile.objects.filter(user__username__in=names).values_list("pk", flat=True))


def _diagnosis(company: Client, operators: list[tuple[str, str]]) -> dict:
    """Where things stand, for a failure message."""
    with tenant_context(company):
        calls = list(
            Call.objects.filter(direction="outbound").values_list(
                "to_number", "status", "outcome", "answered_at", "wrapup_ended_at", "call_sid"
            )
        )
        campaign = list(Campaign.objects.values_list("state", flat=True))
    names = [name for name, _ in operators]
    return {
        "campaign": campaign,
        "calls": calls,
        "router": list(
            WaitingCall.objects.filter(tenant=company).values_list("call_sid", "state", "outcome")
        ),
        "operators": list(
            OperatorProfile.objects.filter(user__username__in=names).values_list("state", "consoles")
        ),
    }


def test_a_survey_campaign_completes_with_the_simulator_and_its_aggregates_are_right(
    committed, tenants, asgi_server, celery_worker
):
    from outbound.results import campaign_results, survey_aggregates

    company, number, queue = _company()
    operators = simulated_operators(count=2, slugs=[company.slug], prefix=f"{company.slug}-op")
    campaign = _campaign(company, number, queue)

    def answer(phone: str, step: dict) -> str:
        return PEOPLE[phone][0 if step["node"] == "rating" else 1]

    mine = _profile_ids(operators)

    def tick() -> bool:
        """Beat's dialer tick (also run here: a worker of a concurrent test session sharing the
        broker may take the tasks the operators' state changes enqueue), narrowed to this test's
        operators so it never takes a concurrent test's; then: finished?"""
        dialer.unscoped_dial_pass(operator_ids=mine)
        connection.set_schema_to_public()
        with tenant_context(company):
            if Campaign.objects.get(pk=campaign.pk).state != Campaign.State.COMPLETED:
                return False
            # Every person reached was also walked through the script and wrapped up.
            return not Call.objects.filter(direction="outbound", wrapup_ended_at=None).exists()

    plan = Plan(
        base_url=f"http://{settings.PLATFORM_HOST}:{ports().web}",
        connect=f"127.0.0.1:{ports().web}",
        auth_token=settings.TWILIO_AUTH_TOKEN,
        numbers=[],
        operators=operators,
        rest_port=ports().twilio_rest,
        behaviour=Behaviour(answer_delay=(0.05, 0.1), wrap_up=(0.05, 0.1), answer=answer),
        callee=Callee(outcomes={BUSY: "busy", MACHINE: "machine"}),
    )

    gateway.client.cache_clear()
    with override_settings(
        TWILIO_API_BASE_URL=f"http://127.0.0.1:{ports().twilio_rest}",
        TWILIO_WEBHOOK_BASE_URL=f"http://{settings.PLATFORM_HOST}:{ports().web}",
    ):
        result = run_async(simulate_outbound(plan, done=tick, timeout=120))
    gateway.client.cache_clear()

    if not result["finished"]:
        pytest.fail(json.dumps({"result": result, "now": _diagnosis(company, operators)}, default=str))
    assert result["errors"] == [], result
    outcomes = {r["to"]: r["result"] for r in result["outbound"]}
    assert outcomes == {**dict.fromkeys(PEOPLE, "human"), BUSY: "busy", MACHINE: "machine"}
    assert sum(op["outbound_talked"] for op in result["operators"]) == 4
    with tenant_context(company):
        questions = {q["node"]: q for q in survey_aggregates(campaign)}
        rating = {c["value"]: c["count"] for c in questions["rating"]["counts"]}
        assert rating == {"5": 2, "4": 1, "2": 1}
        assert (questions["recommend"]["yes"], questions["recommend"]["no"]) == (2, 2)
        results = campaign_results(campaign)
        assert results["reached"] == 4 and results["attempts"] == 6
        assert {k: v for k, v in results["outcomes"].items() if v} == {"answered": 4, "busy": 1, "machine": 1}
        calls = Call.objects.filter(direction="outbound")
        assert calls.count() == 6  # one call record per dial, none for anything never dialed
        handled = calls.filter(outcome="handled")
        assert set(handled.values_list("to_number", flat=True)) == set(PEOPLE)
        for call in handled:
            assert call.disposition == "survey_done" and call.operator_name and call.wrapup_ended_at
            assert call.from_number == number
            assert ScriptAnswer.objects.filter(session_id=call.script_session_id).count() == 2
        machine = calls.get(to_number=MACHINE)
        assert machine.events.filter(kind="machine_message").exists()
        sids = list(calls.values_list("call_sid", flat=True))
    assert not WaitingCall.objects.filter(call_sid__in=sids).exclude(state="left").exists()
    with tenant_context(tenants.beta):
        assert not Campaign.objects.filter(name="Autumn survey").exists()
        assert not Call.objects.filter(call_sid__in=sids).exists()


def test_a_caller_who_asked_for_a_callback_is_called_back_by_an_operator(
    committed, tenants, asgi_server, celery_worker
):
    from telephony.calls.models import Callback
    from telephony.simulator.run import simulate

    company, number, _ = _company()
    base = {
        "base_url": f"http://{settings.PLATFORM_HOST}:{ports().web}",
        "connect": f"127.0.0.1:{ports().web}",
        "auth_token": settings.TWILIO_AUTH_TOKEN,
        "rest_port": ports().twilio_rest,
    }
    # Nobody staffs the queue: the caller presses a key while waiting and asks to be called back.
    asked = run_async(
        simulate(
            Plan(
                **base,
                numbers=[number],
                operators=[],
                calls=1,
                seed=3,
                profile=Profile(patience=(30.0, 30.0), wait_turn=0.2, press_key=1.0, want_callback=1.0),
            )
        )
    )
    assert asked["outcomes"] == {"callback": 1}, asked["trace"]
    with tenant_context(company):
        (callback,) = Callback.objects.all()
    caller = callback.phone
    operators = simulated_operators(count=1, slugs=[company.slug], prefix=f"{company.slug}-op")
    mine = _profile_ids(operators)

    def tick() -> bool:
        dialer.unscoped_dial_pass(operator_ids=mine)
        connection.set_schema_to_public()
        with tenant_context(company):
            done = Callback.objects.get(pk=callback.pk).state == Callback.State.DONE
            return done and not Call.objects.filter(direction="outbound", wrapup_ended_at=None).exists()

    gateway.client.cache_clear()
    with override_settings(
        TWILIO_API_BASE_URL=f"http://127.0.0.1:{ports().twilio_rest}",
        TWILIO_WEBHOOK_BASE_URL=f"http://{settings.PLATFORM_HOST}:{ports().web}",
    ):
        result = run_async(
            simulate_outbound(
                Plan(
                    **base,
                    numbers=[],
                    operators=operators,
                    behaviour=Behaviour(answer_delay=(0.05, 0.1), wrap_up=(0.05, 0.1)),
                ),
                done=tick,
                timeout=60,
            )
        )
    gateway.client.cache_clear()

    if not result["finished"]:
        pytest.fail(json.dumps({"result": result, "now": _diagnosis(company, operators)}, default=str))
    assert [r["to"] for r in result["outbound"]] == [caller]
    with tenant_context(company):
        callback.refresh_from_db()
        assert callback.attempts == 1
        (call,) = Call.objects.filter(direction="outbound")
        assert call.outcome == "handled" and call.from_number == number and call.to_number == caller
        assert call.events.filter(kind="callback_result", data__outcome="answered").exists()
