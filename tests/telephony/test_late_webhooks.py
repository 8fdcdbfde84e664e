"""A webhook a caller waits on that reached the platform after Twilio gave up on it (the proxy's
``X-Request-Start`` stamp) is answered 503 unserved; everything else is served as before."""

from __future__ import annotations

import time

import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context

from telephony.calls.models import Call
from telephony.late_webhooks import stamped_at
from telephony.models import WaitingCall
from tests.telephony.calls_kit import incoming
from tests.twilio_kit import signed_post


def _stamp(seconds_ago: float) -> str:
    """The proxy's stamp, nginx's way (``t=$msec``)."""
    return f"t={time.time() - seconds_ago:.3f}"


def test_a_call_whose_first_webhook_arrived_after_twilio_gave_up_is_not_taken_in(
    db, tenants, alpha_number, django_assert_num_queries
):
    with django_assert_num_queries(0):  # shed before the company is even looked up
        response, params = incoming(alpha_number, meta={"HTTP_X_REQUEST_START": _stamp(20.0)})
    assert response.status_code == 503
    assert "Twilio gives up after 15 s" in response.content.decode()
    with tenant_context(tenants.alpha):
        assert not Call.objects.filter(call_sid=params["CallSid"]).exists()  # no offer to anyone
    assert not WaitingCall.objects.filter(call_sid=params["CallSid"]).exists()


@pytest.mark.parametrize("unit", [1, 1_000, 1_000_000])
def test_a_call_stamped_within_twilios_wait_is_served_whatever_the_stamps_unit(
    db, tenants, alpha_number, unit
):
    stamp = str(round((time.time() - 2.0) * unit, 3))  # milliseconds and microseconds without "t="
    response, params = incoming(alpha_number, meta={"HTTP_X_REQUEST_START": stamp})
    assert response.status_code == 200
    with tenant_context(tenants.alpha):
        assert Call.objects.filter(call_sid=params["CallSid"]).exists()


@pytest.mark.parametrize("stamp", ["t=", "soon", "t=nan", "-5", "0", "t=4102444800.000"])  # the last: 2100
def test_a_stamp_that_says_nothing_old_is_served(db, tenants, alpha_number, stamp):
    response, _ = incoming(alpha_number, meta={"HTTP_X_REQUEST_START": stamp})
    assert response.status_code == 200


def test_twilios_callbacks_are_served_however_late_what_they_report_did_happen(db, tenants, alpha_number):
    _, params = incoming(alpha_number)
    status = {**params, "CallStatus": "completed", "CallDuration": "31"}
    response = signed_post("/twilio/voice/status", status, HTTP_X_REQUEST_START=_stamp(60.0))
    assert response.status_code == 204
    with tenant_context(tenants.alpha):
        assert Call.objects.get(call_sid=params["CallSid"]).status == "completed"


def test_a_later_webhook_of_the_caller_is_shed_too(db, tenants, alpha_number):
    _, params = incoming(alpha_number)
    response = signed_post(
        "/twilio/voice/gather", {**params, "Digits": "1"}, HTTP_X_REQUEST_START=_stamp(16.0)
    )
    assert response.status_code == 503


def test_with_the_limit_off_nothing_is_shed(db, tenants, alpha_number):
    with override_settings(WEBHOOK_GIVE_UP_SECONDS=0):
        response, _ = incoming(alpha_number, meta={"HTTP_X_REQUEST_START": _stamp(600.0)})
    assert response.status_code == 200


def test_the_stamps_units_are_told_apart():
    assert stamped_at("t=1765100000.123") == pytest.approx(1765100000.123)
    assert stamped_at("1765100000123") == pytest.approx(1765100000.123)
    assert stamped_at("t=1765100000123456") == pytest.approx(1765100000.123456)
    assert stamped_at(" t=1765100000 ") == 1765100000.0
    assert stamped_at("t=x") is None and stamped_at("inf") is None and stamped_at("0") is None
