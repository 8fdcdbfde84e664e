"""The certificate gate (R14): the router never offers a company's call to an operator whose
certificate for that company is missing, past its date, voided or revoked; tier and skills apply
on top. The staffed count, "anyone free" and the expected wait count certified operators only."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from operations import certification
from operations.models import Certification
from outbound.dialer import inbound_waiting_for
from telephony import routing
from telephony.models import Reservation, Skill, WaitingCall
from tests.telephony.helpers import at, make_operator, make_queue, sid

PAST = timezone.now() - dt.timedelta(minutes=1)


def offered_to(call: WaitingCall) -> set[int]:
    return set(Reservation.objects.filter(call=call).values_list("operator_id", flat=True))


def uncertify(operator, until) -> None:
    Skill.objects.filter(operator=operator).update(certified_until=until)


def test_an_operator_never_certified_is_never_offered_the_call_even_at_a_better_tier(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    locked = make_operator({queue: 1}, idle=0)
    uncertify(locked, None)
    certified = make_operator({queue: 3}, idle=50)
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(100))
    assert offered_to(call) == {certified.pk}


def test_no_certified_operator_the_call_waits_and_the_queue_is_not_staffed(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    expired = make_operator({queue: 1})
    uncertify(expired, PAST)
    never = make_operator({queue: 1})
    uncertify(never, None)
    assert not routing.staffed(queue_id=queue.pk)
    assert not routing.anyone_free([queue.pk])
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(100))
        assert routing.match(now=at(200)) == []
    assert offered_to(call) == set()
    assert routing.expected_wait(call_sid=call.call_sid) == (1, queue.max_wait)  # nobody staffed
    assert not inbound_waiting_for(expired.pk)  # the dialer does not count it as theirs either
    # Certified again: the next pass offers it.
    uncertify(expired, timezone.now() + dt.timedelta(days=1))
    assert routing.staffed(queue_id=queue.pk) and routing.anyone_free([queue.pk])
    with commit():
        routing.match(now=at(210))
    assert offered_to(call) == {expired.pk}


def test_an_operator_freed_is_not_offered_a_call_of_a_company_they_are_not_certified_for(db, tenants, commit):
    alpha, beta = make_queue(tenants.alpha), make_queue(tenants.beta)
    operator = make_operator({alpha: 1, beta: 1}, state="break")
    Skill.objects.filter(operator=operator, queue=alpha).update(certified_until=None)
    with commit():
        for_alpha = routing.enqueue(tenant=tenants.alpha, queue=alpha, call_sid=sid(), now=at(0))
        for_beta = routing.enqueue(tenant=tenants.beta, queue=beta, call_sid=sid(), now=at(5))
    with commit():
        routing.operator_set_state(operator=operator.user, state="available", now=at(10))
    assert offered_to(for_alpha) == set() and offered_to(for_beta) == {operator.pk}


def test_the_overflow_group_is_gated_too(db, tenants, commit):
    group = make_queue(tenants.alpha)
    queue = make_queue(tenants.alpha, overflow_after=0, overflow_queue=group)
    backup = make_operator({group: 1})
    uncertify(backup, None)
    assert not routing.staffed(queue_id=queue.pk)
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(0))
        routing.match(now=at(60))
    assert offered_to(call) == set()


def test_a_voided_or_revoked_certificate_locks_the_skills_at_once(db, tenants, commit):
    queue = make_queue(tenants.alpha)
    voided, revoked = make_operator({queue: 1}, idle=0), make_operator({queue: 1}, idle=10)
    now = timezone.now()
    for operator in (voided, revoked):
        certification.certification_grant(
            operator=operator,
            client=tenants.alpha,
            valid_until=now + dt.timedelta(days=30),
            now=now,
            reason="t",
        )
    assert routing.staffed(queue_id=queue.pk)
    certification.certifications_void(client=tenants.alpha, reason="Script v2 went live.", now=now)
    assert not routing.staffed(queue_id=queue.pk)
    assert set(Certification.objects.values_list("state", flat=True)) == {"voided"}
    certification.certification_grant(
        operator=revoked, client=tenants.alpha, valid_until=now + dt.timedelta(days=30), now=now, reason="t"
    )
    held = Certification.objects.get(operator=revoked)
    certification.certification_revoke(certification=held, by="Sue", reason="Complaint", now=now)
    with commit():
        call = routing.enqueue(tenant=tenants.alpha, queue=queue, call_sid=sid(), now=at(100))
    assert offered_to(call) == set()
