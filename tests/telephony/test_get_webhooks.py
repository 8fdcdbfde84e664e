"""Twilio configured with GET: the parameters come in the query string and the signature covers
the whole URL (Twilio's rules for GET); every voice webhook answers them as it answers a POST."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context
from twilio.request_validator import RequestValidator

from telephony.calls.models import Call
from telephony.models import Queue, WaitingCall
from tests.telephony.calls_kit import new_sid
from tests.telephony.helpers import make_operator
from tests.twilio_kit import check_twiml


def signed_get(
    path: str, params: dict[str, str], *, signature: str | None = None, sign_path: str | None = None
):
    """GET ``path`` with ``params`` added to its query, signed as Twilio signs a GET: the URL alone."""
    joiner = "&" if "?" in path else "?"
    full = f"{path}{joiner}{urlencode(params)}"
    url = f"http://{settings.PLATFORM_HOST}{sign_path or full}"
    sig = (
        signature
        if signature is not None
        else RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(url, {})
    )
    return HttpClient(HTTP_HOST=settings.PLATFORM_HOST).get(full, HTTP_X_TWILIO_SIGNATURE=sig)


def _call_params(to: str, sid: str) -> dict[str, str]:
    return {
        "AccountSid": "AC" + "1" * 32, "CallSid": sid, "CallStatus": "ringing", "Direction": "inbound",
        "From": "+14155550100", "To": to,
    }  # fmt: skip


@pytest.fixture
def queue(db, tenants) -> Queue:
    queue, _ = Queue.objects.get_or_create(tenant=tenants.alpha, is_default=True, defaults={"name": "Main"})
    make_operator({queue: 1}, state="wrap_up")
    return queue


def test_a_get_configured_number_is_answered_and_its_later_webhooks_too(db, tenants, queue, alpha_number):
    """Before: 405 to every GET."""
    sid = new_sid()
    response = signed_get("/twilio/voice/incoming", _call_params(alpha_number, sid))
    assert response.status_code == 200, response.content
    root = check_twiml(response.content)
    assert [el.tag for el in root] == ["Say", "Enqueue"]
    assert WaitingCall.objects.filter(call_sid=sid).exists()
    wait_url = root.find("Enqueue").get("waitUrl")
    wait = signed_get(wait_url, {"CallSid": sid, "To": alpha_number, "QueueTime": "4"})
    assert wait.status_code == 200
    assert check_twiml(wait.content).find("Gather") is not None
    left = signed_get(
        root.find("Enqueue").get("action"), {"CallSid": sid, "QueueResult": "leave", "QueueTime": "4"}
    )
    assert check_twiml(left.content).find("Gather") is not None
    status = signed_get(
        "/twilio/voice/status",
        {**_call_params(alpha_number, sid), "CallStatus": "completed", "CallDuration": "9"},
    )
    assert status.status_code == 204
    with tenant_context(tenants.alpha):
        call = Call.objects.get(call_sid=sid)
        assert call.status == Call.Status.COMPLETED and call.duration_seconds == 9 and call.wait_seconds == 4


@pytest.mark.parametrize("tamper", ["no_signature", "changed_query", "signed_as_post"])
def test_a_get_is_refused_unless_its_url_is_signed(db, tenants, queue, alpha_number, tamper):
    sid = new_sid()
    params = _call_params(alpha_number, sid)
    if tamper == "no_signature":
        response = signed_get("/twilio/voice/incoming", params, signature="")
    elif tamper == "changed_query":
        other = urlencode({**params, "To": "+15550000000"})
        response = signed_get("/twilio/voice/incoming", params, sign_path=f"/twilio/voice/incoming?{other}")
    else:  # signed over the bare URL and the parameters, as for a POST
        url = f"http://{settings.PLATFORM_HOST}/twilio/voice/incoming"
        sig = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)
        response = signed_get("/twilio/voice/incoming", params, signature=sig)
    assert response.status_code == 403
    with tenant_context(tenants.alpha):
        assert not Call.objects.filter(call_sid=sid).exists()
