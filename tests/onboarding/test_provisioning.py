"""Provisioning (R7): accepted and paid → active, numbers, a default queue; then suspend, resume, close."""

from __future__ import annotations

import datetime
import json
import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Role, User
from telephony.models import PhoneNumber, Queue
from tenants import lifecycle, onboarding
from tenants.models import AuditEvent, Client, Order
from tenants.tasks import release_numbers
from tests.onboarding.helpers import accept, add_numbers, manager, pay, sent_contract


def _live(contract, client):
    client.refresh_from_db()
    return client.status == Client.Status.ACTIVE


def test_accepted_and_paid_in_full_makes_the_client_active_with_numbers_and_a_queue(db, tenants):
    add_numbers(5)
    by = manager()
    contract, client = sent_contract(numbers=2, by=by)
    with pytest.raises(onboarding.OnboardingError):  # no invoice to pay before the acceptance
        pay(contract, by)
    accept(contract)
    assert not _live(contract, client)
    pay(contract, by)
    assert _live(contract, client)
    numbers = PhoneNumber.objects.filter(tenant=client)
    assert numbers.count() == 2
    assert {n.state for n in numbers} == {"assigned"}
    assert all(n.in_service for n in numbers)
    assert Queue.objects.get(tenant=client, is_default=True).name == "Main"
    with tenant_context(client):
        assert User.objects.filter(role=Role.CLIENT_ADMIN, is_active=True).exists()
    assert Order.objects.get(pk=contract.order_id).state == "active"
    event = AuditEvent.objects.get(client=client, action="client.provisioned")
    assert event.before == {"status": "prospect"}
    assert sorted(event.after["numbers"]) == sorted(n.number for n in numbers)


def test_provisioning_is_all_or_nothing_when_the_pool_is_short(db, tenants):
    by = manager()
    contract, client = sent_contract(numbers=2, by=by)
    PhoneNumber.objects.filter(state="available").delete()
    (only,) = add_numbers(1)
    accept(contract)
    with pytest.raises(onboarding.NumberPoolExhausted):
        pay(contract, by)
    client.refresh_from_db()
    assert client.status == Client.Status.PROSPECT
    assert PhoneNumber.objects.get(number=only).state == "available"
    assert not Queue.objects.filter(tenant=client).exists()
    assert not contract.payments.exists()  # the payment rolled back with it: record it again later


def test_a_number_belongs_to_one_tenant_only_in_the_database(db, tenants):
    (number,) = add_numbers(1)
    with pytest.raises(IntegrityError), transaction.atomic():
        PhoneNumber.objects.create(number=number)
    with pytest.raises(IntegrityError), transaction.atomic():  # assigned needs a tenant; available has none
        PhoneNumber.objects.filter(number=number).update(state="assigned")
    with pytest.raises(IntegrityError), transaction.atomic():
        PhoneNumber.objects.filter(number=number).update(tenant=tenants.alpha)
    with pytest.raises(IntegrityError), transaction.atomic():
        PhoneNumber.objects.create(number="+1 202 555 0100")  # not E.164
    Queue.objects.create(tenant=tenants.alpha, name="First", is_default=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        Queue.objects.create(tenant=tenants.alpha, name="Second", is_default=True)


def test_an_assigned_number_is_not_given_to_the_next_client(db, tenants):
    by = manager()
    PhoneNumber.objects.filter(state="available").delete()
    add_numbers(1)
    first, first_client = sent_contract(by=by)
    accept(first)
    pay(first, by)
    second, second_client = sent_contract(by=by)
    accept(second)
    with pytest.raises(onboarding.NumberPoolExhausted):
        pay(second, by)
    assert PhoneNumber.objects.filter(tenant=first_client).count() == 1
    assert not PhoneNumber.objects.filter(tenant=second_client).exists()


def test_two_concurrent_provisionings_never_get_the_same_number(on_test_database, tenants):
    by = manager()
    add_numbers(8)
    contracts = []
    for _ in range(2):
        contract, _client = sent_contract(numbers=3, by=by)
        accept(contract)
        contracts.append(contract)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def provision(contract) -> None:
        try:
            barrier.wait(timeout=10)
            pay(contract, by)
        except BaseException as error:  # reported to the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=provision, args=(c,)) for c in contracts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    taken = [
        set(PhoneNumber.objects.filter(tenant_id=c.client_id).values_list("number", flat=True))
        for c in contracts
    ]
    assert len(taken[0]) == len(taken[1]) == 3
    assert not taken[0] & taken[1]
    assert all(Client.objects.get(pk=c.client_id).status == "active" for c in contracts)


def test_suspend_keeps_data_and_numbers_resume_restores_service(db, tenants):
    add_numbers(2)
    by = manager()
    contract, client = sent_contract(by=by)
    accept(contract)
    pay(contract, by)
    lifecycle.client_suspend(client=client, by=by, reason="unpaid invoice")
    number = PhoneNumber.objects.get(tenant=client)
    assert number.state == "assigned"
    assert not number.in_service  # telephony answers it with the polite message
    with tenant_context(client):
        assert User.objects.filter(role=Role.CLIENT_ADMIN).exists()
    with pytest.raises(onboarding.OnboardingError):
        lifecycle.client_suspend(client=client, by=by, reason="again")
    lifecycle.client_resume(client=client, by=by)
    assert PhoneNumber.objects.get(tenant=client).in_service
    actions = list(AuditEvent.objects.filter(client=client).values_list("action", flat=True))
    assert "client.suspended" in actions
    assert "client.resumed" in actions


def test_close_exports_the_data_and_releases_numbers_after_the_grace_period(db, tenants, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    add_numbers(2)
    by = manager()
    contract, client = sent_contract(by=by)
    accept(contract)
    pay(contract, by)
    now = timezone.now()
    export = lifecycle.client_close(client=client, by=by, reason="End of the contract", now=now)
    assert export.parent == tmp_path / "exports" / client.schema_name
    document = json.loads(export.read_text())
    assert any(row["role"] == "client_admin" for row in document["tables"]["accounts_user"])
    client.refresh_from_db()
    assert client.status == "closed"
    number = PhoneNumber.objects.get(tenant=client)
    assert number.state == "releasing"
    assert lifecycle.numbers_release_due(now=now + datetime.timedelta(days=1)) == []
    later = now + datetime.timedelta(days=settings.NUMBER_RELEASE_GRACE_DAYS, seconds=1)
    assert lifecycle.numbers_release_due(now=later) == [number.number]
    number.refresh_from_db()
    assert number.state == "available"
    assert number.tenant is None
    assert release_numbers.run() == []  # the beat task: nothing more is due, safe to run again
