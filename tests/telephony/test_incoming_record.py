"""The incoming call's record, written in one statement: the dialled number kept in memory is
checked where the call is written, and a caller's card is made once even when their first two
calls arrive at once."""

from __future__ import annotations

import threading

from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from telephony.calls.models import Call, CallEvent, Contact, WebhookEvidence
from telephony.calls.records import TwilioCallParams, start_inbound
from telephony.models import PhoneNumber, WaitingCall
from telephony.webhooks import NUMBERS
from tests.telephony.calls_kit import incoming, new_sid
from tests.twilio_kit import signed_post


def test_a_number_kept_in_memory_is_checked_where_the_call_is_written(db, tenants, alpha_number):
    incoming(alpha_number)
    assert NUMBERS.get(alpha_number).tenant_id == tenants.alpha.pk  # kept
    # Moved by another process (no save signal here): this process still keeps the old company.
    PhoneNumber.objects.filter(number=alpha_number).update(tenant=tenants.beta)
    assert NUMBERS.get(alpha_number).tenant_id == tenants.alpha.pk
    _, params = incoming(alpha_number)
    with tenant_context(tenants.alpha):
        assert not Call.objects.filter(call_sid=params["CallSid"]).exists()
    with tenant_context(tenants.beta):
        assert Call.objects.filter(call_sid=params["CallSid"]).exists()
    assert NUMBERS.get(alpha_number).tenant_id == tenants.beta.pk  # read afresh


def test_a_status_callback_finds_its_company_by_the_kept_number_while_the_copy_says_assigned(
    db, tenants, alpha_number, django_assert_num_queries
):
    _, params = incoming(alpha_number)
    status = {"CallSid": params["CallSid"], "To": alpha_number, "From": "+14155550100"}
    signed_post("/twilio/voice/status", {**status, "CallStatus": "in-progress"})
    with django_assert_num_queries(0):
        assert NUMBERS.get(alpha_number).state == PhoneNumber.State.ASSIGNED  # kept by the process
    # Its company closed (the number releasing for days), then released to the pool by another
    # process: a copy that does not say "assigned" is never trusted, the number is read afresh.
    PhoneNumber.objects.filter(number=alpha_number).update(
        state=PhoneNumber.State.RELEASING, release_after=timezone.now()
    )
    NUMBERS.invalidate()
    assert NUMBERS.get(alpha_number).state == PhoneNumber.State.RELEASING
    PhoneNumber.objects.filter(number=alpha_number).update(
        state=PhoneNumber.State.AVAILABLE, tenant=None, release_after=None
    )
    stray = {**status, "CallSid": new_sid(), "CallStatus": "completed"}
    assert signed_post("/twilio/voice/status", stray).status_code == 204
    with tenant_context(tenants.alpha):
        assert not WebhookEvidence.objects.filter(call_sid=stray["CallSid"]).exists()
        assert Call.objects.get(call_sid=params["CallSid"]).status == "in-progress"


def test_the_call_record_keeps_its_start_to_the_microsecond(db, tenants, alpha_number):
    now = timezone.now().replace(microsecond=123456)
    params = TwilioCallParams(
        call_sid=new_sid(),
        from_number="+14155550100",
        to_number=alpha_number,
        status="ringing",
        direction="inbound",
    )
    with tenant_context(tenants.alpha):
        started = start_inbound(params=params, tenant_id=tenants.alpha.pk, now=now)
        assert started.created and started.in_service
        call = Call.objects.get(call_sid=params.call_sid)
        assert call.started_at == now == call.events.get(kind="incoming").at


def test_a_callers_first_two_calls_at_once_share_one_card(committed, tenants):
    number = PhoneNumber.objects.create(
        number="+15550199077", tenant=tenants.alpha, state=PhoneNumber.State.ASSIGNED
    )
    caller = "+14155550199"
    written, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first_call_making_the_card() -> None:
        try:
            with tenant_context(tenants.alpha), transaction.atomic():
                Contact.objects.create(phone=caller, first_name="First")
                written.set()
                assert release.wait(20)
        except BaseException as error:
            errors.append(error)
            written.set()
        finally:
            connection.close()

    other = threading.Thread(target=first_call_making_the_card)
    other.start()
    assert written.wait(20)
    # This call's card waits for the other's, which commits once this call's statement has begun:
    # its snapshot does not see the card, so the card is read afterwards and linked.
    threading.Timer(0.5, release.set).start()
    try:
        _, params = incoming(number.number, caller=caller)
        other.join(20)
        assert errors == []
        with tenant_context(tenants.alpha):
            call = Call.objects.select_related("contact").get(call_sid=params["CallSid"])
            assert call.contact is not None and call.contact.first_name == "First"
            assert Contact.objects.filter(phone=caller).count() == 1
    finally:
        release.set()
        other.join(20)
        with tenant_context(tenants.alpha):
            calls = Call.objects.filter(to_number=number.number)
            CallEvent.objects.filter(call__in=calls).delete()
            WaitingCall.objects.filter(call_sid__in=calls.values_list("call_sid", flat=True)).delete()
            calls.delete()
            Contact.objects.filter(phone=caller).delete()
        number.delete()
