"""The console says what happened (issue 21): a transfer Twilio did not take is not "Transferred.",
and a hold that failed while the caller is on the line is not "The caller has hung up."

Twilio's side refusing the change is played by ``gateway.update_twiml`` answering False, as it does
for Twilio's 400/404 answers."""

from __future__ import annotations

import zoneinfo

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from scripts_engine.models import Specialist
from telephony import gateway, routing
from telephony.calls.hours import in_force, specialist_available
from telephony.calls.models import Call, TelephonySettings
from tests.conftest import logged_in
from tests.console.kit import offer_call


def post(client, path, body=None):
    return client.post(path, body or {}, content_type="application/json")


@pytest.fixture
def on_the_line(db, tenants, twilio_mock, django_capture_on_commit_callbacks):
    offered = offer_call(tenants.alpha, django_capture_on_commit_callbacks)
    routing.accept(reservation_id=offered.reservation.pk, operator=offered.operator.user)
    with tenant_context(tenants.alpha):
        Call.objects.filter(call_sid=offered.call_sid).update(
            answered_at=timezone.now(), status="in-progress"
        )
        Specialist.objects.get_or_create(
            key="billing", defaults={"name": "Billing desk", "phone": "+4930123456"}
        )
    return offered, logged_in(None, offered.operator.user), f"/console/calls/{offered.reservation.pk}"


@pytest.fixture
def twilio_refuses(monkeypatch):
    monkeypatch.setattr(gateway, "update_twiml", lambda **kwargs: False)


def test_a_transfer_twilio_did_not_take_is_reported_as_failed(on_the_line, tenants, twilio_refuses):
    offered, client, base = on_the_line
    response = post(client, base + "/transfer", {"specialist": "billing"})
    with tenant_context(tenants.alpha):
        name = Specialist.objects.get(key="billing").name
        assert Call.objects.get(call_sid=offered.call_sid).transferred_to == ""
    assert response.status_code == 409
    assert (
        response.json()["error"] == f"The transfer to {name} did not go through: the call could not be moved."
    )


def test_a_transfer_that_went_through_says_so(on_the_line, tenants):
    offered, client, base = on_the_line
    assert post(client, base + "/transfer", {"specialist": "billing"}).json() == {"transferred": True}
    with tenant_context(tenants.alpha):
        assert Call.objects.get(call_sid=offered.call_sid).transferred_to == "billing"


def test_a_failed_hold_with_the_caller_on_the_line_does_not_say_they_hung_up(on_the_line, twilio_refuses):
    _, client, base = on_the_line
    response = post(client, base + "/hold", {"on": True})
    assert response.status_code == 409
    assert response.json()["error"].startswith("The call could not be put on hold")
    assert "hung up" not in response.json()["error"]


def test_a_failed_hold_after_the_caller_left_says_they_hung_up(on_the_line, tenants, twilio_refuses):
    offered, client, base = on_the_line
    with tenant_context(tenants.alpha):
        Call.objects.filter(call_sid=offered.call_sid).update(status="completed", ended_at=timezone.now())
    response = post(client, base + "/hold", {"on": True})
    assert response.status_code == 409 and response.json()["error"] in (
        "The caller has hung up.", "Only a call in progress can be put on hold.", "The call is over.",
    )  # fmt: skip


def _closed_today(tenant) -> dict[str, list[list[str]]]:
    """Hours on every day but the company's today: the specialist is out now."""
    with tenant_context(tenant):
        today = in_force(TelephonySettings.current(), timezone.now())
        weekday = timezone.now().astimezone(zoneinfo.ZoneInfo(today.timezone or "UTC")).weekday()
    return {str(day): [["00:00", "23:59"]] for day in range(7) if day != weekday}


def test_a_transfer_outside_the_specialists_hours_is_refused_with_their_hours(on_the_line, tenants):
    """Before: the specialist's hours were shown on the service page but never checked."""
    offered, client, base = on_the_line
    with tenant_context(tenants.alpha):
        Specialist.objects.filter(key="billing").update(hours=_closed_today(tenants.alpha))
    listed = client.get(base).json()["specialists"]
    assert [(s["key"], s["available"]) for s in listed] == [("billing", False)]
    response = post(client, base + "/transfer", {"specialist": "billing"})
    assert response.status_code == 409
    with tenant_context(tenants.alpha):
        name = Specialist.objects.get(key="billing").name
    assert response.json()["error"].startswith(f"{name} takes transfers Mon 00:00-23:59") or (
        response.json()["error"].startswith(f"{name} takes transfers Tue 00:00-23:59")
    )
    assert "(company time)" in response.json()["error"]
    with tenant_context(tenants.alpha):
        assert Call.objects.get(call_sid=offered.call_sid).transferred_to == ""


def test_a_specialist_is_out_on_the_companys_holidays_unless_always_on_call(db, tenants):
    with tenant_context(tenants.alpha):
        settings = TelephonySettings.current()
        now = timezone.now()
        settings.holidays = [now.astimezone(zoneinfo.ZoneInfo(settings.timezone or "UTC")).date().isoformat()]
        every_day = {str(day): [["00:00", "23:59"]] for day in range(7)}
        assert not specialist_available(Specialist(key="a", hours=every_day), settings, now)
        assert specialist_available(Specialist(key="b", hours={}), settings, now)
        settings.holidays = []
        assert specialist_available(Specialist(key="a", hours=every_day), settings, now)
