"""The simulator plays a supervisor on the wallboard who listens, whispers, barges and leaves live
calls, and Twilio saying each call's announcement to its operator on their own leg, before they
join, against the real stack."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from telephony.calls.models import Call
from telephony.models import Monitoring
from telephony.simulator.run import simulate
from telephony.simulator.setup import simulated_operators, simulated_supervisors
from telephony.simulator.twilio_side import Profile
from tests.conftest import run_async
from tests.e2e.test_simulated_calls import _fresh_company, _plan

pytestmark = pytest.mark.slow


def test_a_simulated_supervisor_listens_whispers_and_barges_and_operators_hear_the_client(
    committed, tenants, asgi_server, celery_worker
):
    company, number = _fresh_company()
    operators = simulated_operators(count=2, slugs=[company.slug], prefix=f"{company.slug}-op")
    supervisors = simulated_supervisors(count=1, prefix=f"{company.slug}-sup")
    # Calls long enough for three modes even on a loaded machine (each switch is a REST round trip).
    callers = Profile(talk=(14.0, 15.0), patience=(60.0, 90.0), wait_turn=0.3, press_key=0.0)
    plan = _plan([number], operators, calls=2, rate=2.0, seed=3, profile=callers)
    plan.supervisors = supervisors

    result = run_async(simulate(plan))

    assert result["errors"] == [] and result["callback_errors"] == []
    assert result["outcomes"] == {"handled": 2}, result["trace"]
    (supervisor,) = result["supervisors"]
    assert supervisor["sessions"] >= 1 and supervisor["left"] >= 1, supervisor
    # Each session goes listen → whisper → barge; one may stop early when its call ends first.
    sessions = " ".join(supervisor["modes"]).replace(" listen", "|listen").split("|")
    assert "listen whisper barge" in sessions, supervisor["modes"]
    assert result["announced"] == 2  # each operator heard whose call it was
    assert not Monitoring.objects.filter(ended_at=None, supervisor__username=supervisors[0][0]).exists()
    with tenant_context(company):
        calls = Call.objects.filter(to_number=number)
        kinds = [
            [
                (e.kind, e.data["mode"])
                for e in call.events.filter(kind__startswith="supervision_").order_by("pk")
            ]
            for call in calls
        ]
        assert [("supervision_start", "listen"), ("supervision_switch", "whisper"),
                ("supervision_switch", "barge"), ("supervision_stop", "barge")] in kinds, kinds  # fmt: skip
        for call in calls:  # said on the operator's own leg: nothing to release afterwards
            assert call.events.get(kind="leg").data["announcement"] == f"{company.name}, Main"
            assert not call.events.filter(kind__in=["announce", "released"]).exists()
