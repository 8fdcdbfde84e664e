"""Call recordings: fetched from Twilio into the company's own storage, heard only by its staff."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.storage import default_storage
from django_tenants.utils import tenant_context

from accounts.models import Role
from config.celery import app
from telephony import recordings
from telephony.calls.models import Call, CallEvent
from telephony.tasks import store_recording
from tenants.models import CompanyWork
from tests.conftest import http, logged_in, make_user
from tests.quality.kit import MP3, make_call
from tests.twilio_kit import signed_post


def _report(tenant, call: Call, **extra: str):
    """Twilio's recording status callback for ``call``."""
    params = {
        "AccountSid": "AC" + "1" * 32,
        "CallSid": call.call_sid,
        "RecordingSid": call.recording_sid,
        "RecordingUrl": call.recording_url,
        "RecordingStatus": "completed",
        "RecordingDuration": "42",
        **extra,
    }
    return signed_post(f"/twilio/voice/recording?t={tenant.schema_name}", params)


def _stored(tenant, call: Call) -> Call:
    with tenant_context(tenant):
        return Call.objects.get(pk=call.pk)


def test_a_completed_recording_is_fetched_with_the_account_credentials_into_the_tenant_folder(
    db, tenants, media, eager_celery, settings, django_capture_on_commit_callbacks
):
    call = make_call(tenants.alpha)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _report(tenants.alpha, call)
    assert response.status_code == 204 and len(callbacks) == 1

    key = f"recordings/{tenants.alpha.schema_name}/{call.call_sid}/{call.recording_sid}.mp3"
    assert _stored(tenants.alpha, call).recording_key == key
    with default_storage.open(key, "rb") as audio:
        assert audio.read() == MP3
    assert default_storage.path(key).startswith(settings.MEDIA_ROOT)  # the test's own folder
    path, auth = media.requests[0]
    assert path.endswith(f"/Recordings/{call.recording_sid}.mp3") and auth.startswith("Basic ")
    with tenant_context(tenants.alpha):
        event = CallEvent.objects.get(call_id=call.pk, kind="recording_stored")
        assert event.data == {"key": key, "bytes": len(MP3)}


def test_the_download_is_retried_until_twilio_serves_the_file(db, tenants, media, eager_celery):
    call = make_call(tenants.alpha)
    media.fail_next = [503, 404]  # Twilio busy, then the file not there yet
    with tenant_context(tenants.alpha):
        store_recording.delay(call.pk)
    assert len(media.requests) == 3
    assert _stored(tenants.alpha, call).recording_key.endswith(f"{call.recording_sid}.mp3")


def test_fetching_twice_keeps_one_file_and_asks_twilio_once(db, tenants, media):
    call = make_call(tenants.alpha)
    with tenant_context(tenants.alpha):
        first = recordings.store_recording(call_id=call.pk)
        second = recordings.store_recording(call_id=call.pk)
    assert first == second and len(media.requests) == 1


def test_refused_credentials_are_not_retried_and_store_nothing(db, tenants, media, settings):
    call = make_call(tenants.alpha)
    settings.TWILIO_AUTH_TOKEN = "not-the-token"
    with tenant_context(tenants.alpha), pytest.raises(recordings.RecordingRefused, match="401"):
        recordings.store_recording(call_id=call.pk)
    assert _stored(tenants.alpha, call).recording_key == ""
    assert recordings.RecordingRefused not in store_recording.autoretry_for


def test_the_credentials_never_go_to_a_host_other_than_twilio(db, tenants, media):
    call = make_call(tenants.alpha, recording_url=f"{media.url}/Recordings/RE1")
    with tenant_context(tenants.alpha), pytest.raises(recordings.RecordingRefused, match="not a Twilio"):
        recordings.store_recording(call_id=call.pk)
    assert media.requests == []


def test_the_task_refuses_to_run_without_a_tenant(db, tenants, media, eager_celery):
    call = make_call(tenants.alpha)
    result = store_recording.apply(args=[call.pk])  # sent from the public schema
    assert isinstance(result.result, RuntimeError) and media.requests == []


@pytest.fixture
def stored_call(db, tenants, media):
    call = make_call(tenants.alpha)
    with tenant_context(tenants.alpha):
        recordings.store_recording(call_id=call.pk)
    return call


def test_supervisors_and_the_companys_staff_hear_a_recording_others_do_not(
    db, tenants, stored_call, platform_admin
):
    platform_url = f"/quality/{tenants.alpha.slug}/calls/{stored_call.pk}/audio"
    portal_url = f"/recordings/{stored_call.pk}/audio"
    # Users first: a request on a company's host leaves this test's connection in its schema.
    supervisor = logged_in(None, make_user(None, role=Role.SUPERVISOR))
    operator = logged_in(None, make_user(None, role=Role.OPERATOR))
    response = supervisor.get(platform_url)
    assert response.status_code == 200 and response["Content-Type"] == "audio/mpeg"
    assert b"".join(response.streaming_content) == MP3
    assert "no-store" in response["Cache-Control"]
    assert logged_in(None, platform_admin).get(platform_url).status_code == 200

    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))
    response = viewer.get(portal_url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == MP3
    listed = viewer.get("/recordings/")
    assert listed.status_code == 200 and portal_url.encode() in listed.content

    assert http(None).get(platform_url).status_code == 302  # to the login page
    assert http(tenants.alpha).get(portal_url).status_code == 302
    assert operator.get(platform_url).status_code == 403
    assert operator.get("/recordings/").status_code == 404  # no portal on the platform host


def test_another_company_cannot_reach_a_recording(db, tenants, stored_call):
    supervisor = logged_in(None, make_user(None, role=Role.SUPERVISOR))
    beta_admin = logged_in(tenants.beta, make_user(tenants.beta, role=Role.CLIENT_ADMIN))
    with tenant_context(tenants.beta):
        assert not Call.objects.filter(pk=stored_call.pk).exclude(recording_key="").exists()
    assert beta_admin.get(f"/recordings/{stored_call.pk}/audio").status_code == 404
    assert b"No recordings yet." in beta_admin.get("/recordings/").content
    assert supervisor.get(f"/quality/{tenants.beta.slug}/calls/{stored_call.pk}/audio").status_code == 404


def test_a_key_outside_the_companys_folder_is_never_served(db, tenants, stored_call):
    """Defence in depth: even a call row pointing at another company's file gets a 404."""
    with tenant_context(tenants.beta):
        beta_call = make_call(tenants.beta)
        Call.objects.filter(pk=beta_call.pk).update(
            recording_key=_stored(tenants.alpha, stored_call).recording_key
        )
    beta_admin = logged_in(tenants.beta, make_user(tenants.beta, role=Role.CLIENT_ADMIN))
    assert beta_admin.get(f"/recordings/{beta_call.pk}/audio").status_code == 404


def test_the_companys_recordings_name_the_operator_by_first_name_and_last_initial(db, tenants, stored_call):
    """As on the company's other portal pages: platform staff's full names stay on the platform."""
    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))
    page = viewer.get("/recordings/").content.decode()
    assert "Olga O." in page and "Olga Operator" not in page


def test_a_send_kombu_breaks_is_tried_again_and_the_callback_answers_204(
    db, tenants, broken_publish, django_capture_on_commit_callbacks
):
    """During a Redis restart kombu raised AttributeError from its publish, and the callback answered
    500 although the recording was written (the soak of 2026-12-05): the send is tried again."""
    call = make_call(tenants.alpha)
    broken_publish.failures = 2
    with django_capture_on_commit_callbacks(execute=True):
        response = _report(tenants.alpha, call)
    assert response.status_code == 204
    assert broken_publish.tries == 3 and broken_publish.sent == ["telephony.tasks.store_recording"]


def _forget_fetches(tenant, *calls: Call) -> None:
    """The reconciliation's once-an-hour marks of these calls (a test database's ids come again)."""
    from django.core.cache import cache

    cache.delete_many([f"reconcile:fetch:{tenant.schema_name}:{call.pk}" for call in calls])


def test_a_recording_whose_fetch_could_not_be_sent_is_fetched_by_the_reconciliation(
    db, tenants, media, broken_publish, eager_celery, django_capture_on_commit_callbacks, caplog
):
    from django.utils import timezone

    from telephony import reconcile
    from telephony.reliability import reconcile_company

    now = timezone.now()
    call = make_call(
        tenants.alpha, started_at=now - dt.timedelta(minutes=75), ended_at=now - dt.timedelta(minutes=71)
    )
    _forget_fetches(tenants.alpha, call)
    app.conf.task_always_eager = False  # the webhook's send goes to the (broken) broker
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = _report(tenants.alpha, call)
    finally:
        app.conf.task_always_eager = True
    assert response.status_code == 204  # the recording is written; its fetch is not sent
    assert broken_publish.tries == 3 and broken_publish.sent == []
    assert "store_recording" in caplog.text and "could not be sent" in caplog.text
    reported = _stored(tenants.alpha, call)
    assert reported.recording_url == call.recording_url and reported.recording_key == ""
    # The company is looked at by the pass until the audio is stored (tenants.work).
    calls_work = CompanyWork.objects.filter(tenant=tenants.alpha, kind=CompanyWork.Kind.CALLS)
    assert calls_work.get().due_at <= timezone.now()

    with tenant_context(tenants.alpha):
        # 69 minutes after the call's end, the fetch task's own retries may still be under way.
        assert reconcile.unstored_recordings(now=now - dt.timedelta(minutes=2)) == []
        reconcile_company.apply()  # now: 71 minutes after
        stored = Call.objects.get(pk=call.pk)
        assert stored.recording_key.endswith(f"{call.recording_sid}.mp3") and len(media.requests) == 1
        _forget_fetches(tenants.alpha, call)
        assert reconcile.unstored_recordings(now=now + dt.timedelta(minutes=5)) == []  # stored
    assert not calls_work.exists()  # nothing left: the next passes skip the company


def test_an_unstored_recording_is_fetched_again_at_most_once_an_hour(db, tenants, media):
    from django.utils import timezone

    from telephony import reconcile

    now = timezone.now()
    old = make_call(
        tenants.alpha, started_at=now - dt.timedelta(hours=7), ended_at=now - dt.timedelta(hours=6, minutes=1)
    )
    due = make_call(
        tenants.alpha, started_at=now - dt.timedelta(hours=2), ended_at=now - dt.timedelta(minutes=90)
    )
    recent = make_call(
        tenants.alpha, started_at=now - dt.timedelta(hours=1), ended_at=now - dt.timedelta(minutes=60)
    )
    unrecorded = make_call(tenants.alpha, recorded=False, ended_at=now - dt.timedelta(minutes=90))
    theirs = make_call(
        tenants.beta, started_at=now - dt.timedelta(hours=2), ended_at=now - dt.timedelta(minutes=90)
    )
    _forget_fetches(tenants.alpha, old, due, recent, unrecorded)
    _forget_fetches(tenants.beta, theirs)
    with tenant_context(tenants.alpha):
        assert reconcile.unstored_recordings(now=now) == [due.pk]  # the window: 70 minutes to 6 hours
        assert reconcile.unstored_recordings(now=now) == []  # asked again within the hour
    with tenant_context(tenants.beta):
        assert reconcile.unstored_recordings(now=now) == [theirs.pk]  # each company its own calls
