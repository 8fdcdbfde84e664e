"""Wrapping up an earlier call after taking a new one: a clear 409, never a 500, the new call untouched."""

from __future__ import annotations

from django.utils import timezone
from django_tenants.utils import tenant_context

from telephony import routing
from telephony.calls.models import Call
from telephony.models import OperatorProfile, Reservation, Skill
from tests.conftest import logged_in
from tests.console.kit import offer_call
from tests.factories import CallFactory
from tests.telephony.helpers import sid


def _post(client, path, body):
    return client.post(path, body, content_type="application/json")


def test_wrapping_up_an_earlier_call_while_on_a_new_one_is_a_409_with_a_message(
    db, tenants, django_capture_on_commit_callbacks
):
    """Before: the wrap-up asked to make the operator available from on_call: a 500."""
    capture = django_capture_on_commit_callbacks
    first = offer_call(tenants.alpha, capture)
    user = first.operator.user
    with capture(execute=True):
        routing.accept(reservation_id=first.reservation.pk, operator=user)
    with capture(execute=True):
        routing.leave(call_sid=first.call_sid, outcome="handled")  # the caller hung up: wrap-up
    with tenant_context(tenants.alpha):
        Call.objects.filter(call_sid=first.call_sid).update(ended_at=timezone.now(), outcome="handled",
                                                            outcome_at=timezone.now())  # fmt: skip
    with capture(execute=True):  # available again without the wrap-up form, and a new call comes
        routing.operator_set_state(operator=user, state="available")
    second_sid = sid()
    with tenant_context(tenants.alpha):
        CallFactory(call_sid=second_sid, from_number="+14155550999", queued_at=timezone.now())
    queue = Skill.objects.get(operator=first.operator).queue
    with capture(execute=True):
        routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=second_sid)
    second = Reservation.objects.get(call__call_sid=second_sid, state="offered")
    with capture(execute=True):
        routing.accept(reservation_id=second.pk, operator=user)
    assert OperatorProfile.objects.get(pk=first.operator.pk).state == "on_call"

    client = logged_in(None, user)
    base = f"/console/calls/{first.reservation.pk}/wrap-up"
    refused = _post(client, base, {"disposition": "resolved", "note": "late", "available": True})

    assert refused.status_code == 409
    assert "another call" in refused.json()["error"]
    assert OperatorProfile.objects.get(pk=first.operator.pk).state == "on_call"
    assert Reservation.objects.get(pk=second.pk).state == "accepted"
    with tenant_context(tenants.alpha):
        earlier = Call.objects.get(call_sid=first.call_sid)
        assert earlier.wrapup_ended_at is None and earlier.disposition == ""  # nothing half-written
        assert not earlier.events.filter(kind="wrap_up").exists()

    # Without asking to become available, the earlier call's wrap-up is stored; the new call goes on.
    kept = _post(client, base, {"disposition": "resolved", "note": "late"})
    assert kept.status_code == 200
    with tenant_context(tenants.alpha):
        assert Call.objects.get(call_sid=first.call_sid).disposition == "resolved"
    assert OperatorProfile.objects.get(pk=first.operator.pk).state == "on_call"
    assert Reservation.objects.get(pk=second.pk).state == "accepted"
