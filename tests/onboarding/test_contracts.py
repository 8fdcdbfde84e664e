"""Contracts (R4, R5): drafted from the order, versioned, frozen once sent, accepted with a fingerprint."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django_tenants.utils import tenant_context

from accounts.models import Role, User
from tenants import contracting, onboarding, orders
from tenants.contracts import render_pdf
from tenants.models import Acceptance, AuditEvent, Client, Contract, ContractVersion, Order, Tariff
from tests.onboarding.helpers import accept, contact, manager, sent_contract, submit_order


def test_a_contract_is_drafted_from_the_order_with_its_services_and_current_prices(db, tenants):
    order = submit_order()
    contract = contracting.contract_draft(order=order, by=manager())
    version = contract.latest
    assert version.number == 1
    assert version.state == "draft"
    assert version.terms["client"]["legal_name"] == order.legal_name
    assert {line["service_code"] for line in version.tariffs} == {"inbound", "recording"}
    inbound = next(line for line in version.tariffs if line["service_code"] == "inbound")
    assert inbound == {**inbound, "currency": "EUR", "monthly_fee": "490.00", "rounding": "6/6"}
    order.refresh_from_db()
    assert order.state == "drafting"
    assert contracting.contract_draft(order=order, by=manager()) == contract  # idempotent


def test_a_later_price_change_never_alters_a_drafted_contract(db, tenants):
    order = submit_order()
    contract = contracting.contract_draft(order=order, by=manager())
    tariff = Tariff.objects.filter(service__code="inbound").latest("valid_from")
    tariff.monthly_fee = Decimal("999.00")
    tariff.save()
    version = contracting.contract_revise(contract=contract, by=manager(), terms={"notice_days": 60}, body="")
    assert next(x for x in version.tariffs if x["service_code"] == "inbound")["monthly_fee"] == "490.00"


def test_each_save_of_the_draft_is_a_new_version_and_old_versions_are_kept(db, tenants):
    by = manager()
    contract = contracting.contract_draft(order=submit_order(), by=by)
    contracting.contract_revise(contract=contract, by=by, terms={"notice_days": 60}, body="Clause A")
    contracting.contract_revise(contract=contract, by=by, terms={"term_months": 24}, body="Clause A")
    versions = {v.number: v for v in contract.versions.all()}
    assert sorted(versions) == [1, 2, 3]
    assert versions[1].terms["notice_days"] == 30
    assert versions[3].terms["notice_days"] == 60
    assert versions[3].terms["term_months"] == 24
    assert versions[3].body == "Clause A"


def test_sending_creates_the_prospect_and_invites_the_contact_as_client_admin(db, tenants):
    contract, client = sent_contract()
    assert client.status == Client.Status.PROSPECT
    assert client.host == f"{client.slug}.localhost"
    assert contract.state == "sent"
    assert contract.order.state == "sent"
    with tenant_context(client):
        invited = User.objects.get(email=contract.order.contact_email)
        assert invited.role == Role.CLIENT_ADMIN
        assert not invited.has_usable_password()
    version = contract.latest
    assert version.state == "sent"
    assert version.pdf_sha256 == hashlib.sha256(bytes(version.pdf)).hexdigest()
    actions = set(AuditEvent.objects.filter(client=client).values_list("action", flat=True))
    assert {"client.created", "contract.sent", "order.sent"} <= actions


def test_a_version_renders_to_the_same_pdf_bytes_every_time(db, tenants):
    contract, _ = sent_contract()
    version = contract.latest
    first, second = render_pdf(version=version), render_pdf(version=version)
    assert first.startswith(b"%PDF")
    assert first == second == bytes(version.pdf)


def test_acceptance_records_who_when_where_and_the_fingerprint_of_the_sent_bytes(db, tenants):
    contract, client = sent_contract()
    accept(contract)
    acceptance = Acceptance.objects.get(version=contract.latest)
    assert acceptance.user_email == contact(client).email
    assert acceptance.ip == "192.0.2.10"
    assert acceptance.pdf_sha256 == hashlib.sha256(bytes(contract.latest.pdf)).hexdigest()
    contract.refresh_from_db()
    assert contract.state == "accepted"
    assert contract.in_force == contract.latest


def test_an_accepted_contract_cannot_be_edited_a_new_version_is_needed(db, tenants):
    contract, _client = sent_contract()
    accept(contract)
    accepted = ContractVersion.objects.get(contract=contract, state="accepted")
    accepted.body = "Sneaky change"
    with pytest.raises(ValidationError, match="cannot change"):
        accepted.save()
    accepted.refresh_from_db()
    assert accepted.body == ""
    with pytest.raises(IntegrityError, match="cannot change"), transaction.atomic():  # nor around the model
        ContractVersion.objects.filter(pk=accepted.pk).update(body="Sneaky change")
    with (
        pytest.raises(IntegrityError, match="cannot be deleted"),
        transaction.atomic(),
        connection.cursor() as sql,
    ):
        sql.execute("DELETE FROM tenants_contractversion WHERE id = %s", [accepted.pk])

    by = manager()
    amendment = contracting.contract_revise(contract=contract, by=by, terms={"notice_days": 90}, body="")
    assert amendment.number == 2
    assert amendment.state == "draft"
    contract.refresh_from_db()
    assert contract.in_force == accepted  # still governed by the accepted text until v2 is accepted
    contracting.contract_send(contract=contract, by=by)
    accept(contract)
    contract.refresh_from_db()
    assert contract.in_force.number == 2
    assert ContractVersion.objects.get(pk=accepted.pk).state == "superseded"


def test_a_sent_version_cannot_be_sent_again_nor_an_old_version_accepted(db, tenants):
    by = manager()
    contract, client = sent_contract(by=by)
    with pytest.raises(onboarding.OnboardingError):
        contracting.contract_send(contract=contract, by=by)
    old = contract.latest
    contracting.contract_revise(contract=contract, by=by, terms={"notice_days": 45}, body="")
    contracting.contract_send(contract=contract, by=by)
    user = contact(client)
    with tenant_context(client), pytest.raises(onboarding.OnboardingError):
        contracting.contract_accept(version=old, user=user, ip=None)
    assert ContractVersion.objects.get(pk=old.pk).state == "superseded"


def test_only_a_client_admin_can_accept(db, tenants):
    contract, client = sent_contract()
    with tenant_context(client):
        for role in (Role.CLIENT_EDITOR, Role.CLIENT_VIEWER):
            user = User.objects.create(username=f"u-{role}", role=role)
            with pytest.raises(onboarding.OnboardingError):
                contracting.contract_accept(version=contract.latest, user=user, ip=None)
    assert not Acceptance.objects.exists()
    assert Contract.objects.get(pk=contract.pk).state == "sent"


def test_the_invitation_task_is_sent_from_the_new_tenants_schema_after_commit(
    db, tenants, monkeypatch, django_capture_on_commit_callbacks
):

    from accounts.tasks import send_invitation

    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        send_invitation, "delay", lambda **kwargs: sent.append((connection.schema_name, kwargs))
    )
    with django_capture_on_commit_callbacks(execute=True):
        _, client = sent_contract()
    assert connection.schema_name == "public"
    ((schema, kwargs),) = sent
    assert schema == client.schema_name  # tenant-schemas-celery sends the schema it is called in
    assert kwargs["link"].startswith(f"http://{client.host}/reset/")


def test_a_portal_address_is_promised_to_one_open_order_only(db, tenants):
    order = submit_order()
    with pytest.raises(ValidationError, match="already taken"):
        submit_order(order.portal_slug)
    orders.order_reject(order=order, by=manager(), reason="duplicate")
    assert submit_order(order.portal_slug).portal_slug == order.portal_slug


def test_sending_refuses_a_portal_address_taken_meanwhile(db, tenants):
    order = submit_order("alpha-like")
    contract = contracting.contract_draft(order=order, by=manager())
    Order.objects.filter(pk=order.pk).update(portal_slug="alpha")  # e.g. edited in the admin
    with pytest.raises(onboarding.OnboardingError, match="taken"):
        contracting.contract_send(contract=contract, by=manager())
    assert Contract.objects.get(pk=contract.pk).latest.state == "draft"


def test_sending_knows_whether_the_contacts_invitation_was_sent(
    db, tenants, broken_publish, django_capture_on_commit_callbacks
):
    """The first send invites the order's contact once it commits; whether the e-mail's task went
    out is what the sending reports (a later version invites nobody)."""
    by = manager()
    contract = contracting.contract_draft(order=submit_order(), by=by)
    with django_capture_on_commit_callbacks(execute=True):  # Redis away: 3 tries, none sent
        sending = contracting.contract_send(contract=contract, by=by)
    assert sending.version == Contract.objects.get(pk=contract.pk).latest
    assert sending.invitation.user.email == contract.order.contact_email
    assert sending.invitation.sent is False and broken_publish.tries == 3
    contracting.contract_revise(contract=contract, by=by, terms={"notice_days": 45}, body="")
    with django_capture_on_commit_callbacks(execute=True):
        assert contracting.contract_send(contract=contract, by=by).invitation is None

    broken_publish.failures = broken_publish.tries  # the broker is back
    other = contracting.contract_draft(order=submit_order(), by=by)
    with django_capture_on_commit_callbacks(execute=True):
        sending = contracting.contract_send(contract=other, by=by)
    assert sending.invitation.sent is True
    assert broken_publish.sent == ["accounts.tasks.send_invitation"]


def test_the_back_office_says_when_the_contacts_invitation_could_not_be_sent(
    db, tenants, broken_publish, monkeypatch
):
    """The page tells the account manager what happened to the invitation, not that it was made.
    (The sending commits before the page answers; here, inside the test's transaction, its hooks
    run at once instead.)"""
    from types import SimpleNamespace

    from tests.conftest import logged_in

    by = manager()
    browser = logged_in(None, by)
    waiting = contracting.contract_draft(order=submit_order(), by=by)
    page = browser.post(f"/staff/contracts/{waiting.pk}/send/", follow=True).content.decode()
    # Not committed yet (the test's transaction): neither sent nor failed.
    assert f"{waiting.order.contact_email} is invited once this is saved." in page

    immediately = SimpleNamespace(atomic=transaction.atomic, on_commit=lambda hook, *args, **kwargs: hook())
    monkeypatch.setattr("accounts.invitations.transaction", immediately)
    contract = contracting.contract_draft(order=submit_order(), by=by)
    email = contract.order.contact_email
    page = browser.post(f"/staff/contracts/{contract.pk}/send/", follow=True).content.decode()
    assert f"Version 1 sent to the client&#x27;s portal. The invitation to {email} could not be sent" in page
    assert "Send the portal invitation again" in page and "was invited" not in page

    broken_publish.failures = broken_publish.tries  # the broker is back
    contracting.contract_revise(contract=contract, by=by, terms={"notice_days": 45}, body="")
    page = browser.post(f"/staff/contracts/{contract.pk}/send/", follow=True).content.decode()
    message = page.split("Version 2 sent to the client&#x27;s portal.")[1].split("</p>")[0]
    assert message == ""  # nobody invited by a later version
    other = contracting.contract_draft(order=submit_order(), by=by)
    page = browser.post(f"/staff/contracts/{other.pk}/send/", follow=True).content.decode()
    assert f"Version 1 sent to the client&#x27;s portal. {other.order.contact_email} was invited" in page
    assert broken_publish.sent == ["accounts.tasks.send_invitation"]


def test_the_account_manager_sends_the_new_companys_admin_a_fresh_invitation(db, tenants, broken_publish):
    """The first admin is invited by the contract's sending; if that e-mail was never sent (or was
    lost, or its link expired) the company has nobody to invite them again: the account manager
    does, from the contract's page, until they have chosen a password."""
    from tests.conftest import logged_in

    broken_publish.failures = 0  # the broker works: the sending's own invitation goes through
    by = manager()
    contract, client = sent_contract(by=by)
    browser = logged_in(None, by)
    page = browser.get(f"/staff/contracts/{contract.pk}/").content.decode()
    assert "no password chosen yet" in page and "Send the portal invitation again" in page
    (email,) = [admin.email for admin in contracting.invited_admins(client)]

    broken_publish.failures, before = (
        broken_publish.tries + 3,
        len(broken_publish.sent),
    )  # Redis away: 3 tries
    invite = f"/staff/contracts/{contract.pk}/invite/"
    assert (
        f"The invitation to {email} could not be sent just now"
        in browser.post(invite, follow=True).content.decode()
    )
    assert f"Invitation sent again to {email}." in browser.post(invite, follow=True).content.decode()
    assert broken_publish.sent[before:] == ["accounts.tasks.send_invitation"]
    events = AuditEvent.objects.filter(action="contract.admin_invited_again", object_id=contract.pk)
    assert sorted(e.after["sent"] for e in events) == [False, True]
    assert {e.actor_schema for e in events} == {"public"}  # the account manager, a platform user

    contact(client)  # they chose a password: nobody is waiting any more
    page = browser.get(f"/staff/contracts/{contract.pk}/").content.decode()
    assert "Send the portal invitation again" not in page
    assert "Nobody of this client company is waiting" in browser.post(invite, follow=True).content.decode()
