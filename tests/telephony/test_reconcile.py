"""Issue 22: calls reconciled with Twilio (the real client against Prism), early final statuses
kept, Twilio's unknown recordings imported, repeatable events de-duplicated."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client as HttpClient
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context
from twilio.request_validator import RequestValidator

from telephony import reconcile, routing
from telephony.calls.models import Call, CallEvent
from telephony.models import OperatorProfile, PhoneNumber, Queue, Reservation, WaitingCall
from tests.telephony.calls_kit import incoming
from tests.telephony.helpers import make_operator, operator_joined
from tests.twilio_kit import signed_post, verbs

# What Prism answers for any call and recording (Twilio's own examples in its OpenAPI spec).
PRISM_CALL = {"status": "completed", "duration": 4, "from": "+13051416799", "direction": "outbound-api"}
PRISM_RECORDING = ("RE" + "a" * 32, "CA" + "a" * 32)


@pytest.fixture
def queue(db, tenants) -> Queue:
    queue, _ = Queue.objects.get_or_create(tenant=tenants.alpha, is_default=True, defaults={"name": "Main"})
    make_operator({queue: 1}, state="wrap_up")  # staffed (busy): callers wait in the queue
    return queue


def _forget() -> None:
    """The recordings pass remembers what it saw (in the public schema's cache)."""
    with schema_context("public"):
        cache.delete(f"reconcile:recording:{PRISM_RECORDING[0]}")


def _age(tenant, sid: str, minutes: int) -> None:
    """Move the call's clock back: nothing happened to it for ``minutes``."""
    back = dt.timedelta(minutes=minutes)
    with tenant_context(tenant):
        call = Call.objects.get(call_sid=sid)
        fields = {
            name: getattr(call, name) - back
            for name in ("started_at", "queued_at", "offered_at", "answered_at")
            if getattr(call, name) is not None
        }
        Call.objects.filter(pk=call.pk).update(**fields)
        cache.delete(f"reconcile:asked:{sid}")


def test_a_queued_call_whose_final_callback_was_lost_is_finished_and_leaves_the_queue(
    db, tenants, queue, alpha_number, twilio_mock, commit
):
    sid = "CA" + "a" * 32
    with commit():
        incoming(alpha_number, sid=sid)
    assert WaitingCall.objects.get(call_sid=sid).state == WaitingCall.State.WAITING
    _age(tenants.alpha, sid, minutes=5)
    now = timezone.now()
    with tenant_context(tenants.alpha), commit():
        assert reconcile.reconcile_company(now=now) == {"finished": 1}
        call = Call.objects.get(call_sid=sid)
        assert (call.status, call.outcome, call.duration_seconds) == ("completed", "abandoned", 4)
        assert call.ended_at == now  # Twilio's end time (2019 in Prism's example) precedes the call
        assert call.events.filter(kind="reconciled").count() == 1
        assert reconcile.reconcile_company(now=now) == {}  # finished: nothing left to ask
    assert WaitingCall.objects.get(call_sid=sid).state == WaitingCall.State.LEFT


def test_a_call_on_an_operator_whose_final_callback_was_lost_frees_the_operator(
    db, tenants, queue, alpha_number, twilio_mock, commit
):
    operator = make_operator({queue: 1})
    sid = "CA" + "a" * 32
    with commit():
        incoming(alpha_number, sid=sid)
    offer = Reservation.objects.get(operator=operator, state="offered")
    with commit():
        waiting = routing.accept(reservation_id=offer.pk, operator=operator.user).call
        operator_joined(waiting)
    assert OperatorProfile.objects.get(pk=operator.pk).state == "on_call"
    with tenant_context(tenants.alpha):
        assert reconcile.reconcile_company() == {}  # answered a moment ago: not stale
    _age(tenants.alpha, sid, minutes=30)
    with tenant_context(tenants.alpha), commit():
        assert reconcile.reconcile_company() == {"finished": 1}
        call = Call.objects.get(call_sid=sid)
        assert (call.outcome, call.talk_seconds is not None) == ("handled", True)
    assert OperatorProfile.objects.get(pk=operator.pk).state == "wrap_up"
    assert Reservation.objects.get(pk=offer.pk).state == "completed"


def test_each_stale_call_is_asked_of_twilio_at_most_every_few_minutes(
    db, tenants, queue, alpha_number, twilio_mock, monkeypatch
):
    sid = "CA" + "b" * 32
    incoming(alpha_number, sid=sid)
    _age(tenants.alpha, sid, minutes=5)
    live = reconcile.TwilioCall(sid, "in-progress", "", "", "inbound", None, None, None)
    asked = []
    monkeypatch.setattr(reconcile, "fetch_call", lambda call_sid: asked.append(call_sid) or live)
    with tenant_context(tenants.alpha):
        assert reconcile.reconcile_company() == {"live": 1}
        assert reconcile.reconcile_company() == {"asked recently": 1}
        assert Call.objects.get(call_sid=sid).outcome == ""
    assert asked == [sid]


def test_another_companys_reconciliation_never_touches_this_companys_calls(
    db, tenants, queue, alpha_number, twilio_mock
):
    sid = "CA" + "a" * 32
    incoming(alpha_number, sid=sid)
    _age(tenants.alpha, sid, minutes=5)
    with tenant_context(tenants.beta):
        assert reconcile.reconcile_company() == {}
    with tenant_context(tenants.alpha):
        assert Call.objects.get(call_sid=sid).outcome == ""


def test_a_completed_status_before_the_first_webhook_ends_the_call_when_it_appears(
    db, tenants, queue, alpha_number
):
    sid = "CA" + "c" * 32
    early = signed_post(
        "/twilio/voice/status",
        {"CallSid": sid, "To": alpha_number, "From": "+14155550100", "CallStatus": "completed",
         "CallDuration": "3", "Direction": "inbound"},
    )  # fmt: skip
    assert early.status_code == 204
    response, _ = incoming(alpha_number, sid=sid)
    assert verbs(response.content) == ["Hangup"]
    assert not WaitingCall.objects.filter(call_sid=sid).exists()  # never queued, never offered
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=sid)
        assert (call.status, call.outcome, call.duration_seconds) == ("completed", "abandoned", 3)
        assert call.events.filter(kind="early_status_applied").count() == 1


def test_an_early_status_is_kept_in_its_company_only(db, tenants, alpha_number):
    sid = "CA" + "d" * 32
    signed_post("/twilio/voice/status", {"CallSid": sid, "To": alpha_number, "CallStatus": "completed"})
    with tenant_context(tenants.beta):
        assert reconcile.take_early_status(call_sid=sid) is None
    with tenant_context(tenants.alpha):
        assert reconcile.take_early_status(call_sid=sid).status == "completed"


def test_twilios_recordings_unknown_to_the_platform_are_imported_into_the_numbers_company(
    db, tenants, twilio_mock
):
    """A voicemail taken by the static fallback while the platform was down is never lost."""
    recording_sid, call_sid = PRISM_RECORDING
    PhoneNumber.objects.update_or_create(
        number=PRISM_CALL["from"], defaults={"tenant": tenants.alpha, "state": PhoneNumber.State.ASSIGNED}
    )
    _forget()
    imported = reconcile.import_recordings()
    assert len(imported) == 1 and imported[0][0] == tenants.alpha.schema_name
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=call_sid)
        assert (call.recording_sid, call.outcome, call.recording_seconds) == (recording_sid, "voicemail", 4)
        assert call.recording_url.startswith("https://api.twilio.com/2010-04-01/Accounts/")
        assert call.events.filter(kind="imported_from_twilio").count() == 1
    with tenant_context(tenants.beta):
        assert not Call.objects.filter(call_sid=call_sid).exists()
    _forget()
    assert reconcile.import_recordings() == []  # known now: nothing imported twice


def test_a_known_call_missing_its_recording_gets_it(db, tenants, alpha_number, twilio_mock):
    recording_sid, call_sid = PRISM_RECORDING
    PhoneNumber.objects.update_or_create(
        number=PRISM_CALL["from"], defaults={"tenant": tenants.alpha, "state": PhoneNumber.State.ASSIGNED}
    )
    incoming(PRISM_CALL["from"], sid=call_sid)
    _forget()
    assert len(reconcile.import_recordings()) == 1
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=call_sid)
        assert call.recording_sid == recording_sid
        assert not call.events.filter(kind="imported_from_twilio").exists()


# 5. Repeatable events de-duplicated ---------------------------------------------------------------


def _wait_key(sid: str, to: str, token: str | None):
    path = "/twilio/voice/wait-key?t=t_alpha"
    params = {"CallSid": sid, "To": to, "Digits": "*"}
    url = f"http://{settings.PLATFORM_HOST}{path}"
    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)
    headers = {"HTTP_X_TWILIO_SIGNATURE": signature}
    if token is not None:
        headers["HTTP_I_TWILIO_IDEMPOTENCY_TOKEN"] = token
    client = HttpClient(HTTP_HOST=settings.PLATFORM_HOST)
    response = client.post(path, data=urlencode(params), content_type="application/x-www-form-urlencoded",
                           **headers)  # fmt: skip
    assert response.status_code == 200
    return response


def test_a_replayed_star_press_is_recorded_once(db, tenants, queue, alpha_number):
    _, params = incoming(alpha_number)
    sid = params["CallSid"]
    _wait_key(sid, alpha_number, token="token-1")
    _wait_key(sid, alpha_number, token="token-1")  # Twilio's retry: the same token
    _wait_key(sid, alpha_number, token="token-2")  # another press
    with tenant_context(tenants.alpha):
        assert CallEvent.objects.filter(call__call_sid=sid, kind="wait_key").count() == 2


def test_without_an_idempotency_token_a_star_press_is_recorded_once_per_call(
    db, tenants, queue, alpha_number
):
    _, params = incoming(alpha_number)
    sid = params["CallSid"]
    _wait_key(sid, alpha_number, token=None)
    _wait_key(sid, alpha_number, token=None)
    with tenant_context(tenants.alpha):
        assert CallEvent.objects.filter(call__call_sid=sid, kind="wait_key").count() == 1
