"""Issue 23: the reconciliation visits the companies whose calls may need it (``tenants.work``),
not every company with a number: a new call marks its company, the pass settles it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from telephony import reconcile, reliability
from telephony.calls.models import Call
from tenants.models import CompanyWork
from tests.factories import CallFactory
from tests.telephony.calls_kit import incoming

CALLS = CompanyWork.Kind.CALLS


@pytest.fixture
def clean(db) -> None:
    CompanyWork.objects.all().delete()  # rows other tests' companies may have (rolled back after)


def _due_at(tenant) -> dt.datetime | None:
    return CompanyWork.objects.filter(tenant=tenant, kind=CALLS).values_list("due_at", flat=True).first()


def test_an_incoming_call_marks_its_company_due_when_it_would_be_stale(clean, tenants, alpha_number):
    sid = "CA" + "1" * 32
    incoming(alpha_number, sid=sid)
    with tenant_context(tenants.alpha):
        started = Call.objects.get(call_sid=sid).started_at
    waiting = dt.timedelta(seconds=settings.RECONCILE_WAITING_SECONDS)
    assert _due_at(tenants.alpha) == started + waiting
    assert _due_at(tenants.beta) is None  # the other company has nothing to reconcile
    incoming(alpha_number, sid=sid)  # a replay writes no call, and no mark
    assert _due_at(tenants.alpha) == started + waiting
    assert reconcile.companies_due(now=started) == []
    assert reconcile.companies_due(now=started + waiting) == [tenants.alpha]


def test_a_call_written_by_the_orm_marks_its_company_unless_already_ended(clean, tenants):
    now = timezone.now()
    with tenant_context(tenants.beta):
        CallFactory(started_at=now - dt.timedelta(hours=1), ended_at=now)  # a finished call: no work
    assert _due_at(tenants.beta) is None
    with tenant_context(tenants.beta):
        CallFactory(started_at=now, direction=Call.Direction.OUTBOUND)  # a dialled call, say
    assert _due_at(tenants.beta) == now + dt.timedelta(seconds=settings.RECONCILE_WAITING_SECONDS)


def test_the_pass_keeps_a_company_while_a_call_is_not_ended_then_lets_it_go(clean, tenants, twilio_mock):
    now = timezone.now()
    with tenant_context(tenants.alpha):
        call = CallFactory(started_at=now - dt.timedelta(seconds=30))  # not stale yet
        reliability.reconcile_company.apply()
    due = _due_at(tenants.alpha)
    assert due is not None and due <= timezone.now()  # at the next pass
    with tenant_context(tenants.alpha):
        Call.objects.filter(pk=call.pk).update(ended_at=timezone.now(), status="completed")
        reliability.reconcile_company.apply()
    assert _due_at(tenants.alpha) is None  # nothing left: the next passes skip it


def test_a_recording_not_stored_keeps_its_company_until_its_audio_is(clean, tenants):
    now = timezone.now()
    with tenant_context(tenants.alpha):
        CallFactory(
            started_at=now - dt.timedelta(minutes=20), ended_at=now - dt.timedelta(minutes=10),
            recording_sid="RE" + "2" * 32, recording_url="https://api.twilio.com/r",
        )  # fmt: skip
        assert reconcile.work_left(now=now)
        assert not reconcile.work_left(now=now + reconcile.RECORDINGS_WINDOW)  # past the window: given up
        Call.objects.update(recording_key="stored.mp3")
        assert not reconcile.work_left(now=now)


def test_the_beat_sends_the_pass_only_to_the_companies_due(clean, tenants, twilio_mock, monkeypatch):
    from django.db import connection

    visited: list[str] = []
    send = lambda: visited.append(connection.schema_name)  # noqa: E731
    monkeypatch.setattr(reliability.reconcile_company, "delay", send)
    with tenant_context(tenants.beta):
        CallFactory(started_at=timezone.now() - dt.timedelta(minutes=10))
    reliability.reconcile_calls()
    assert visited == [tenants.beta.schema_name]
