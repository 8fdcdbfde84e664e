"""Issue 18: every signed Twilio webhook kept as received (once per idempotency key, in the
company's schema) and ``manage.py replay_calls`` checking the call records against them."""

from __future__ import annotations

import datetime as dt
import io
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context
from twilio.request_validator import RequestValidator

from reporting import tasks
from telephony.calls.models import Call, TelephonySettings, WebhookEvidence
from telephony.models import Queue
from tests.reporting.factories import contract_in_force
from tests.telephony.calls_kit import incoming, new_sid
from tests.twilio_kit import signed_post


@pytest.fixture
def queue(db, tenants) -> Queue:
    queue, _ = Queue.objects.get_or_create(tenant=tenants.alpha, is_default=True, defaults={"name": "Main"})
    return queue


def post(path: str, params: dict[str, str], **fields: str):
    response = signed_post(f"/twilio/voice/{path}?t=t_alpha", {**params, **fields})
    assert response.status_code in (200, 204), response.content
    return response


def a_call(number: str) -> dict[str, str]:
    """A caller who waits, hangs up after 42 s and left a recording of 12 s."""
    _, params = incoming(number, sid=new_sid())
    post("wait", params, QueueTime="3")
    post("recording", params, RecordingSid="RE" + "1" * 32, RecordingStatus="completed",
         RecordingDuration="12", RecordingUrl="https://api.twilio.com/rec/RE1")  # fmt: skip
    post("status", params, CallStatus="completed", CallDuration="42")
    return params


def replay() -> str:
    """Alpha's day (UTC) replayed."""
    out = io.StringIO()
    call_command("replay_calls", company="alpha", day=timezone.now().date().isoformat(), stdout=out)
    return out.getvalue()


def test_each_webhook_is_kept_once_as_received_in_the_companys_schema(db, tenants, queue, alpha_number):
    params = a_call(alpha_number)
    path, status = "/twilio/voice/status?t=t_alpha", {**params, "CallStatus": "completed"}
    url = f"http://{settings.PLATFORM_HOST}{path}"
    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(url, status)
    for _ in range(2):  # Twilio retries with the same token: kept once
        response = Client(HTTP_HOST=settings.PLATFORM_HOST).post(
            path, data=urlencode(status), content_type="application/x-www-form-urlencoded",
            HTTP_X_TWILIO_SIGNATURE=signature, HTTP_I_TWILIO_IDEMPOTENCY_TOKEN="tok-1",
        )  # fmt: skip
        assert response.status_code == 204
    with tenant_context(tenants.alpha):
        kept = list(WebhookEvidence.objects.filter(call_sid=params["CallSid"]))
        assert [k.url.split("?")[0].rsplit("/", 1)[1] for k in kept] == [
            "incoming", "wait", "recording", "status", "status"
        ]  # fmt: skip
        assert kept[0].params == params and kept[0].signature  # every parameter, as received
        assert kept[-1].idempotency_key == "tok-1"
    with tenant_context(tenants.beta):
        assert not WebhookEvidence.objects.exists()  # never in another company's schema


def test_a_badly_signed_webhook_is_not_kept(db, tenants, queue, alpha_number):
    _, params = incoming(alpha_number, sid=new_sid())
    response = signed_post("/twilio/voice/status?t=t_alpha", {**params, "CallStatus": "completed"},
                           signature="forged")  # fmt: skip
    assert response.status_code == 403
    with tenant_context(tenants.alpha):
        assert WebhookEvidence.objects.filter(call_sid=params["CallSid"]).count() == 1  # the incoming only


def test_replaying_the_day_finds_the_records_are_what_the_webhooks_say(db, tenants, queue, alpha_number):
    with tenant_context(tenants.alpha):
        TelephonySettings.objects.update_or_create(pk=1, defaults={"timezone": "UTC"})
    calls = [a_call(alpha_number) for _ in range(3)]
    assert replay().strip().endswith("3 calls, 12 webhooks, 0 differences")

    with tenant_context(tenants.alpha):  # a record changed after the fact
        Call.objects.filter(call_sid=calls[1]["CallSid"]).update(duration_seconds=30, recording_seconds=None)
        Call.objects.filter(call_sid=calls[2]["CallSid"]).delete()
    with pytest.raises(CommandError, match="3 calls, 12 webhooks, 3 differences"):
        replay()
    out = io.StringIO()
    day = timezone.now().date().isoformat()
    with pytest.raises(CommandError):
        call_command("replay_calls", company="alpha", day=day, stdout=out)
    listed = out.getvalue()
    assert f"{calls[1]['CallSid']} duration_seconds: recorded 30, the webhooks say 42" in listed
    assert f"{calls[1]['CallSid']} recording_seconds: recorded None, the webhooks say 12" in listed
    assert f"{calls[2]['CallSid']} record: recorded None, the webhooks say '4 webhooks'" in listed


def test_replay_refuses_an_unknown_company_or_a_bad_day(db, tenants):
    with pytest.raises(CommandError, match="No client company"):
        call_command("replay_calls", company="nobody", day="2026-11-02")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("replay_calls", company="alpha", day="02/11/2026")


def test_evidence_is_kept_as_long_as_the_contract_says(db, tenants, queue, alpha_number):
    params = a_call(alpha_number)
    contract_in_force(tenants.alpha, tariffs=[], evidence_retention_months=1)
    with tenant_context(tenants.alpha):
        WebhookEvidence.objects.filter(call_sid=params["CallSid"], url__contains="/wait").update(
            received_at=timezone.now() - dt.timedelta(days=40)
        )
        assert tasks.purge_evidence.apply().get() == 1  # the 40-day-old one, past a month
        assert WebhookEvidence.objects.filter(call_sid=params["CallSid"]).count() == 3
    with tenant_context(tenants.beta):
        assert tasks.purge_evidence.apply().get() == 0
