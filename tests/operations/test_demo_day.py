"""The demo looks like a working day: a dozen operators with skills and shifts (breaks included),
and weeks of calls with handle times in minutes, abandons, voicemails, callbacks and IVR-completed
calls, in the statistics so the dashboard and the staffing forecast have history."""

from __future__ import annotations

import datetime as dt
import io
import random
import wave

from django.db.models import Avg, Count
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Role
from operations import demo
from operations.certification import EXPIRING_SOON
from operations.models import Certification, CertificationQuiz, Shift
from quality.demo import seed_scored_calls
from quality.models import Score
from reporting.models import Statistic
from telephony.calls.models import Call, CallEvent, RecordingAccess
from telephony.models import Skill
from telephony.recordings import recording_response
from tests.conftest import make_user
from tests.factories import QueueFactory

TODAY = dt.date(2026, 3, 16)  # a Monday


def test_the_floor_has_a_dozen_operators_with_skills_and_shifts(db, tenants):
    queue = QueueFactory(tenant=tenants.alpha, is_default=True, name="Main")
    for n in range(1, 13):
        make_user(None, role=Role.OPERATOR, username=f"operator{n}")
    added = demo.seed_floor(today=TODAY)
    assert added == 12 * 6  # a week, one day off each
    assert Skill.objects.filter(queue=queue).count() == 12
    shift = Shift.objects.filter(operator__user__username="operator1").first()
    assert (shift.ends_at - shift.starts_at) == dt.timedelta(hours=8.5) and shift.break_minutes == 45
    assert demo.seed_floor(today=TODAY) == 0  # a second run adds nothing


def test_the_history_has_minutes_long_calls_every_outcome_and_statistics(db, tenants):
    QueueFactory(tenant=tenants.alpha, is_default=True, name=f"Main {random.randrange(10**6)}")
    added = demo.seed_history(client=tenants.alpha, today=TODAY, days=14, calls_per_day=40)
    assert added > 300
    with tenant_context(tenants.alpha):
        outcomes = dict(Call.objects.values_list("outcome").annotate(n=Count("id")))
        assert {"handled", "abandoned", "voicemail", "callback_requested", "completed_in_ivr"} <= set(
            outcomes
        )
        handled = Call.objects.filter(outcome="handled").aggregate(
            talk=Avg("talk_seconds"), wait=Avg("wait_seconds")
        )
        assert 180 <= handled["talk"] <= 360 and handled["wait"] < 60  # minutes of talk, seconds of wait
        assert outcomes["abandoned"] / sum(outcomes.values()) < 0.25
        days = set(
            Statistic.objects.filter(granularity=Statistic.Granularity.DAY).values_list(
                "period_start", flat=True
            )
        )
        assert len(days) >= 10  # the weekdays of two weeks
        assert Statistic.objects.filter(granularity=Statistic.Granularity.INTERVAL).exists()
    assert demo.seed_history(client=tenants.alpha, today=TODAY, days=14) == 0


def test_a_few_history_calls_are_recorded_with_playable_audio_and_scored(db, tenants):
    QueueFactory(tenant=tenants.alpha, is_default=True, name=f"Main {random.randrange(10**6)}")
    for n in range(1, 4):
        make_user(None, role=Role.OPERATOR, username=f"operator{n}")
    supervisor = make_user(None, role=Role.SUPERVISOR, username="supervisor-q")
    demo.seed_history(client=tenants.alpha, today=TODAY, days=7, calls_per_day=20)

    assert seed_scored_calls(client=tenants.alpha, scorer=supervisor, count=5) == 5
    with tenant_context(tenants.alpha):
        scores = list(Score.objects.select_related("call"))
        assert len(scores) == 5 and all(0 <= s.percent <= 100 and s.marks.count() == 5 for s in scores)
        assert {s.scorer_id for s in scores} == {supervisor.pk}
        for score in scores:  # each scored call has a recording the quality pages can play
            response = recording_response(score.call)
            with wave.open(io.BytesIO(b"".join(response.streaming_content))) as audio:
                assert response["Content-Type"] == "audio/wav" and audio.getnframes() > 0
    assert seed_scored_calls(client=tenants.alpha, scorer=supervisor) == 0  # a second run adds nothing
    with tenant_context(tenants.alpha):  # one of them was paused for card data, and listened to
        paused = CallEvent.objects.filter(kind="recording_paused").values_list("call_id", flat=True)
        assert len(paused) == 1 and RecordingAccess.objects.filter(call_id__in=paused).count() == 1
    with tenant_context(tenants.beta):
        assert not Score.objects.exists()  # another company's demo content stays its own


def test_the_demo_floor_is_certified_so_it_routes_and_some_certificates_expire_soon(db, tenants):
    queue = QueueFactory(tenant=tenants.alpha, is_default=True, name="Main")
    for n in range(1, 13):
        make_user(None, role=Role.OPERATOR, username=f"operator{n}")
    demo.seed_floor(today=TODAY)
    now = timezone.now()
    assert demo.seed_certifications(now=now) >= 12
    assert CertificationQuiz.objects.filter(client=tenants.alpha).exists()
    held = Certification.objects.filter(client=tenants.alpha, state="certified")
    assert held.count() == 12
    assert Skill.objects.filter(queue=queue, certified_until__gt=now).count() == 12
    soon = held.filter(valid_until__lte=now + EXPIRING_SOON).count()
    assert 0 < soon < 12  # the supervisors' "expiring soon" has rows
    assert demo.seed_certifications(now=now) == 0  # a second run changes nothing
