"""Issue 22: the simulator plays our own faults against the real stack, and the platform recovers."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from aiohttp import web
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from telephony import gateway, reconcile
from telephony.calls.models import Call
from telephony.models import OperatorProfile, WaitingCall
from telephony.simulator.faults import Faults, simulate_with_faults
from telephony.simulator.setup import simulated_operators
from telephony.simulator.twilio_side import Profile
from tests.conftest import ports, run_async
from tests.e2e.test_simulated_calls import _fresh_company, _plan
from tests.stub_platform import stub_platform

pytestmark = pytest.mark.slow


def _calls(company, number) -> list[Call]:
    with tenant_context(company):
        return list(Call.objects.filter(to_number=number))


def test_lost_final_callbacks_are_repaired_by_the_reconciliation_asking_twilio(
    committed, tenants, asgi_server, celery_worker
):
    company, number = _fresh_company()
    operators = simulated_operators(count=2, slugs=[company.slug], prefix=f"{company.slug}-op")
    faults = Faults(lost_status=1.0)
    seen: dict[str, object] = {}

    def reconcile_now() -> dict[str, int]:
        with tenant_context(company):
            seen["unfinished"] = Call.objects.filter(to_number=number, ended_at__isnull=True).count()
            for call in Call.objects.filter(to_number=number):
                cache.delete(f"reconcile:asked:{call.call_sid}")
            gateway.client.cache_clear()
            with override_settings(TWILIO_API_BASE_URL=f"http://127.0.0.1:{ports().twilio_rest}"):
                done = reconcile.reconcile_company(now=timezone.now() + dt.timedelta(minutes=15))
            gateway.client.cache_clear()
            return done

    async def settle(records) -> object:
        return await asyncio.to_thread(reconcile_now)

    # The first two calls keep both operators (their ends are lost): the other two give up after a
    # few seconds in line rather than a minute, and their ends are lost too.
    profile = Profile(talk=(0.3, 1.0), patience=(3.0, 5.0), wait_turn=0.3, press_key=0.0)
    plan = _plan([number], operators, calls=4, rate=3.0, seed=5, profile=profile)
    result = run_async(simulate_with_faults(plan, faults, settle=settle))

    calls = _calls(company, number)
    assert len(calls) == 4
    # Every call's final status was lost (another leg's may have been too, e.g. a try placed by REST).
    assert {c.call_sid for c in calls} <= set(result["lost_sids"]), result["lost_sids"]
    assert seen["unfinished"] == 4  # no final callback: nothing ended the calls on the platform
    assert result["settled"]["finished"] >= 4, result["settled"]
    assert all(c.ended_at and c.outcome and c.status == "completed" for c in calls), [
        (c.status, c.outcome) for c in calls
    ]
    sids = [c.call_sid for c in calls]
    assert set(WaitingCall.objects.filter(call_sid__in=sids).values_list("state", flat=True)) <= {"left"}
    names = [name for name, _ in operators]
    assert not OperatorProfile.objects.filter(user__username__in=names, state="on_call").exists()


def test_late_final_callbacks_followed_by_earlier_ones_never_move_a_call_back(
    committed, tenants, asgi_server, celery_worker
):
    company, number = _fresh_company()
    operators = simulated_operators(count=2, slugs=[company.slug], prefix=f"{company.slug}-op")
    profile = Profile(talk=(0.3, 1.0), patience=(60.0, 90.0), wait_turn=0.3, press_key=0.0, late_status=1.0)
    plan = _plan([number], operators, calls=4, rate=3.0, seed=6, profile=profile)
    result = run_async(simulate_with_faults(plan, Faults(late_seconds=(0.5, 1.0))))
    assert result["faults"]["late"] == 4
    calls = _calls(company, number)
    assert len(calls) == 4
    assert all(c.status == "completed" and c.outcome == "handled" and c.ended_at for c in calls)


def test_callers_twilio_stopped_waiting_for_leave_a_message_on_the_fallback_and_none_is_lost(
    committed, tenants, asgi_server, celery_worker
):
    """The platform's voice process has fallen behind: Twilio waits 15 s for the answer to a call's
    first webhook (1 s here), then asks the number's fallback URL, where the caller leaves a message.
    The platform never saw those calls: the reconciliation, listing Twilio's recordings, brings
    each message into the company that owns the number, with a call for it."""
    company, number = _fresh_company()
    imported: list[tuple[str, int]] = []

    def import_now() -> None:
        gateway.client.cache_clear()
        with override_settings(TWILIO_API_BASE_URL=f"http://127.0.0.1:{ports().twilio_rest}"):
            imported.extend(reconcile.import_recordings())
        gateway.client.cache_clear()

    async def settle(records) -> None:
        await asyncio.to_thread(import_now)

    async def run() -> tuple[dict[str, object], int]:
        held, release = [], asyncio.Event()

        async def behind(request: web.Request) -> web.Response:  # answers only once Twilio gave up
            held.append(request.path)
            await release.wait()
            return web.Response(status=503)

        profile = Profile(talk=(0.3, 1.0), patience=(60.0, 90.0), wait_turn=0.3, webhook_timeout=1.0)
        async with stub_platform({"/twilio/voice/incoming": behind}) as voice:
            plan = _plan([number], [], calls=3, rate=3.0, seed=8, profile=profile, voice_connect=voice)
            try:
                return await simulate_with_faults(plan, Faults(), settle=settle), len(held)
            finally:
                release.set()  # the held requests end before the stand-in stops

    result, held = run_async(run())

    assert held == 3
    trace = [(r.result, r.steps) for r in result["records"]]
    assert result["outcomes"] == {"fallback": 3}, trace
    assert [steps[:2] for _, steps in trace] == [["fallback after TimeoutError", "Say"]] * 3, trace
    assert {schema for schema, _ in imported} == {company.schema_name} and len(imported) == 3
    with tenant_context(company):
        calls = list(Call.objects.filter(to_number=number))
        assert len(calls) == 3
        for call in calls:
            assert (call.outcome, bool(call.recording_sid)) == (Call.Outcome.VOICEMAIL, True)
            assert call.events.filter(kind="imported_from_twilio").count() == 1
