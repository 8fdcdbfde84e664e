"""Retention: recordings older than the contract's ``recording_retention_months`` are deleted (the
audio here and Twilio's copy, validated by Prism), the call kept; each deletion is logged in the
company's access log and as a call event; other companies and newer calls are untouched."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Role
from telephony import gateway, recording_access, recordings, tasks
from telephony.calls.models import Call, CallEvent, RecordingAccess
from tests.conftest import logged_in, make_user
from tests.quality.kit import make_call
from tests.reporting.factories import contract_in_force
from tests.telephony.conference_kit import atomic_depths, twilio_with_faults


def _stored(tenant, *, days_ago: int) -> Call:
    call = make_call(tenant, started_at=timezone.now() - dt.timedelta(days=days_ago))
    with tenant_context(tenant):
        recordings.store_recording(call_id=call.pk)
        return Call.objects.get(pk=call.pk)


@pytest.fixture
def calls(db, tenants, media):
    """Alpha keeps recordings 2 months: one of 70 days (past), one of 20 days; beta one of 400 days
    under the default (12 months)."""
    with tenant_context(tenants.alpha):
        contract_in_force(tenants.alpha, tariffs=[], recording_retention_months=2)
    return (
        _stored(tenants.alpha, days_ago=70),
        _stored(tenants.alpha, days_ago=20),
        _stored(tenants.beta, days_ago=400),
    )


def test_recordings_past_the_contracts_retention_are_deleted_and_the_deletion_logged(
    db, tenants, calls, twilio_api, monkeypatch, django_capture_on_commit_callbacks
):
    old, recent, beta_old = calls
    with override_settings(TWILIO_API_BASE_URL=twilio_api):
        http = twilio_with_faults(monkeypatch, twilio_api)
        depths = atomic_depths(http)
        with tenant_context(tenants.alpha), django_capture_on_commit_callbacks(execute=True):
            assert recording_access.purge_recordings() == 1
        assert depths == [len(connection.atomic_blocks)]  # Twilio asked with no transaction open
        with tenant_context(tenants.alpha), django_capture_on_commit_callbacks(execute=True):
            assert recording_access.purge_recordings() == 0  # twice: nothing more
    (deleted,) = http.sent  # Prism validated the DELETE against Twilio's spec
    assert deleted.method == "DELETE" and deleted.url.endswith(f"/Recordings/{old.recording_sid}.json")
    assert not default_storage.exists(old.recording_key) and default_storage.exists(recent.recording_key)
    with tenant_context(tenants.alpha):
        kept = Call.objects.get(pk=old.pk)  # the call stays, its figures too
        assert (kept.recording_key, kept.recording_url) == ("", "")
        assert kept.recording_sid == old.recording_sid and kept.recording_seconds == 42
        (row,) = RecordingAccess.objects.all()
        assert (row.action, row.surface, row.call_id, row.username) == ("delete", "retention", old.pk, "")
        event = CallEvent.objects.get(call=kept, kind="recording_deleted")
        assert event.data["retention_months"] == 2 and event.data["key"] == old.recording_key
        assert Call.objects.get(pk=recent.pk).recording_key == recent.recording_key
    with tenant_context(tenants.beta):
        assert Call.objects.get(pk=beta_old.pk).recording_key == beta_old.recording_key  # not its turn
    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))
    page = viewer.get("/recordings/access-log/", {"action": "delete"})
    assert b"Retention task" in page.content and old.call_sid.encode() in page.content
    detail = viewer.get(f"/reports/calls/{old.pk}/")
    assert b"recording-deleted" in detail.content and b"(2 months)" in detail.content


def test_twilio_unavailable_keeps_the_recording_for_the_next_run(db, tenants, calls, twilio_api, monkeypatch):
    old, *_ = calls
    with override_settings(TWILIO_API_BASE_URL=twilio_api):
        http = twilio_with_faults(monkeypatch, twilio_api, "503")
        with tenant_context(tenants.alpha):
            assert recording_access.purge_recordings() == 0
            assert Call.objects.get(pk=old.pk).recording_key == old.recording_key
            assert not RecordingAccess.objects.exists()
        http.plan.script = ["404"]  # already gone at Twilio: deleted here all the same
        with tenant_context(tenants.alpha):
            assert recording_access.purge_recordings() == 1


def test_the_daily_dispatcher_runs_the_purge_in_each_companys_schema(db, tenants, calls, monkeypatch):
    sent: list[str] = []
    monkeypatch.setattr(tasks.purge_recordings, "delay", lambda: sent.append(_schema()))
    assert tasks.dispatch_recording_retention() >= 2
    assert {tenants.alpha.schema_name, tenants.beta.schema_name} <= set(sent)
    monkeypatch.setattr(gateway, "delete_recording", lambda **_: gateway.Answer.DONE)
    with tenant_context(tenants.beta):  # twelve months by default: the 400-day-old one goes
        assert recording_access.purge_recordings() == 1


def _schema() -> str:
    from django.db import connection

    return connection.schema_name
