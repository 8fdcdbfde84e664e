"""Contracting: an order's contract from draft to in force, the middle of onboarding.

Drafted from the order's terms and tariffs, revised as new versions, sent to the client's portal
as a frozen PDF (the first send creates the client company as a prospect and invites its admin),
accepted there (which issues the first invoice, ``tenants.first_invoices``), and paid in full
(``tenants.payments``); then the client is provisioned (``tenants.onboarding.client_provision``).
The contract's text and PDF are ``tenants.contracts``. Every function writes inside
``transaction.atomic()`` with its audit events.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.invitations import Invitation, invite_member, send_again
from accounts.models import Role, User
from accounts.permissions import CLIENT_ADMINS
from tenants import contracts
from tenants.audit import record_event
from tenants.clients import client_create
from tenants.first_invoices import FirstInvoiceError, first_invoice_issue, invoice_currency
from tenants.models import Acceptance, Client, Contract, ContractVersion, Order
from tenants.money import minor_unit, whole
from tenants.onboarding import OnboardingError, client_provision, queue_terms_apply, queue_terms_check
from tenants.queue_terms import LEGACY_QUEUE_KEYS, clean_queue_rows


def _portal_host(client: Client, port: int | None) -> str:
    return client.host + (f":{port}" if port and port not in (80, 443) else "")


def invited_admins(client: Client | None) -> list[User]:
    """The client company's admins who were invited and have not chosen a password yet (read in
    its schema)."""
    if client is None:
        return []
    with tenant_context(client):
        admins = User.objects.filter(role=Role.CLIENT_ADMIN).order_by("pk")
        return [admin for admin in admins if admin.invited]


def invite_admins_again(
    *, contract: Contract, by: User, secure: bool = False, port: int | None = None
) -> dict[str, bool]:
    """Each admin of the contract's client company still invited is e-mailed a fresh link (the
    first e-mail was lost, not sent, or its link expired; a new company has nobody else to invite
    them), audited on the contract. Their e-mail → whether its task was sent."""
    client = contract.client
    sent: dict[str, bool] = {}
    for admin in invited_admins(client):
        with tenant_context(client):
            sent[admin.email] = send_again(
                member=admin, inviter=by.get_full_name(), host=_portal_host(client, port), secure=secure
            )
        record_event(actor=by, action="contract.admin_invited_again", obj=contract, client=client,
                     after={"email": admin.email, "sent": sent[admin.email]})  # fmt: skip
    return sent


def contract_draft(*, order: Order, by: User) -> Contract:
    """Draft the contract of an order from the template (version 1), or return the existing one."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        existing = Contract.objects.filter(order=order).first()
        if existing is not None:
            return existing
        if order.state != Order.State.SUBMITTED:
            raise OnboardingError(f"An order in state {order.get_state_display()!r} cannot get a contract.")
        contract = Contract.objects.create(order=order)
        version = ContractVersion.objects.create(
            contract=contract,
            number=1,
            terms=contracts.default_terms(order=order),
            tariffs=contracts.tariffs_for(order=order),
            created_by_name=by.get_full_name() or by.username,
        )
        order.state = Order.State.DRAFTING
        order.save(update_fields=["state", "updated_at"])
        record_event(
            actor=by,
            action="order.drafting",
            obj=order,
            before={"state": "submitted"},
            after={"state": order.state, "contract": contract.pk},
        )
        record_event(actor=by, action="contract.drafted", obj=contract, after={"version": version.number})
    return contract


def contract_revise(*, contract: Contract, by: User, terms: dict[str, object], body: str) -> ContractVersion:
    """Save an edit as a new draft version; sent and accepted versions are never changed.

    The queues' terms are given as ``queues`` (rows, ``tenants.queue_terms``), checked here: a
    ``ValidationError`` saves nothing. They replace the flat terms of a version of the first form.
    """
    stale = sorted(LEGACY_QUEUE_KEYS & set(terms))
    if stale:
        raise ValidationError(f"Give the service level and seats per queue (queues), not {', '.join(stale)}.")
    if "queues" in terms:
        terms = {**terms, "queues": clean_queue_rows(terms["queues"])}
    with transaction.atomic():
        contract = Contract.objects.select_for_update().get(pk=contract.pk)
        latest = contract.latest
        try:  # a version the client could not accept is not saved
            currency = invoice_currency(latest.tariffs)
        except FirstInvoiceError as error:
            raise ValidationError(str(error)) from error
        merged = {**latest.terms, **terms}
        if "deposit" in terms:
            merged["deposit"] = _deposit(terms["deposit"], currency)
        if "queues" in terms:
            merged = {k: v for k, v in merged.items() if k not in LEGACY_QUEUE_KEYS}
        # An unsent draft is replaced by the new one; it stays listed, never to be sent.
        ContractVersion.objects.filter(contract=contract, state=ContractVersion.State.DRAFT).update(
            state=ContractVersion.State.SUPERSEDED
        )
        version = ContractVersion.objects.create(
            contract=contract,
            number=latest.number + 1,
            terms=merged,
            tariffs=latest.tariffs,
            body=body,
            created_by_name=by.get_full_name() or by.username,
        )
        before = contract.state
        if contract.state == Contract.State.SENT:
            contract.state = Contract.State.DRAFT
            contract.save(update_fields=["state"])
        record_event(
            actor=by,
            action="contract.revised",
            obj=contract,
            client=contract.client,
            before={"state": before, "version": latest.number},
            after={
                "state": contract.state,
                "version": version.number,
                "changed": _changed_terms(merged, latest.terms) + (["body"] if body != latest.body else []),
            },
        )
    return version


def _changed_terms(terms: dict[str, object], before: dict[str, object]) -> list[str]:
    """The terms a revision changes; the deposit compared as an amount (a version saved before
    deposits were stored with their currency's places holds "300" where a new one holds "300.00")."""

    def same(key: str) -> bool:
        if key == "deposit" and key in before:
            return Decimal(str(terms[key] or "0")) == Decimal(str(before[key] or "0"))
        return terms[key] == before.get(key)

    return sorted(key for key in terms if not same(key))


def _deposit(value: object, currency: str) -> str:
    """The deposit as stored, refused (``ValidationError`` on ``deposit``) unless it is a whole number
    of the smallest unit of the contract's currency: the contract prints it as the invoice charges it.
    Stored with the currency's places (300 and 300.00 EUR are both "300.00"), so a revision that
    types the same amount differently does not list the deposit as changed."""
    try:
        deposit = Decimal(str(value or "0"))
    except InvalidOperation:
        raise ValidationError({"deposit": "Enter the deposit as a number, e.g. 300.00."}) from None
    if not deposit.is_finite() or deposit < 0:
        raise ValidationError({"deposit": "Enter a deposit of 0 or more."})
    if not whole(deposit, currency):
        unit = minor_unit(currency)
        message = f"A deposit in {currency} is a whole number of {unit} {currency}: {deposit} is not."
        raise ValidationError({"deposit": message})
    return str(deposit.quantize(minor_unit(currency)))


@dataclass
class Sending:
    """A contract's version sent, and the invitation of the client's contact when this send made
    the company (its ``sent``: whether the e-mail's task was sent, known once the send commits)."""

    version: ContractVersion
    invitation: Invitation | None = None


def contract_send(*, contract: Contract, by: User, secure: bool = False, port: int | None = None) -> Sending:
    """Freeze the latest draft (its PDF bytes and SHA-256) and send it to the client's portal.

    The first send creates the client company as a prospect and invites the order's contact as
    its client admin.
    """
    invitation = None
    with transaction.atomic():
        contract = Contract.objects.select_for_update().get(pk=contract.pk)
        order = Order.objects.select_for_update().get(pk=contract.order_id)
        version = contract.latest
        if version.state != ContractVersion.State.DRAFT:
            raise OnboardingError(
                f"Version {version.number} was already sent; edit the contract for a new one."
            )
        try:  # refused here, not first when the client accepts
            invoice_currency(version.tariffs)
        except FirstInvoiceError as error:
            raise OnboardingError(str(error)) from error
        if contract.client is not None and contract.client.status != Client.Status.PROSPECT:
            queue_terms_check(client=contract.client, terms=version.terms)  # a live company's queues
        version.pdf = contracts.render_pdf(version=version)
        version.pdf_sha256 = hashlib.sha256(version.pdf).hexdigest()
        version.state = ContractVersion.State.SENT
        version.sent_at = timezone.now()
        version.sent_by_name = by.get_full_name() or by.username
        version.save()
        ContractVersion.objects.filter(contract=contract, state=ContractVersion.State.SENT).exclude(
            pk=version.pk
        ).update(state=ContractVersion.State.SUPERSEDED)
        client = contract.client
        if client is None:
            if Client.objects.filter(slug=order.portal_slug).exists():
                raise OnboardingError(
                    f"The portal address {order.portal_slug!r} is taken; change it on the order."
                )
            client = client_create(
                slug=order.portal_slug, name=order.legal_name, status=Client.Status.PROSPECT
            )
            record_event(
                actor=by,
                action="client.created",
                obj=client,
                client=client,
                after={"status": client.status, "slug": client.slug},
            )
            contract.client = client
            order.client = client
            with tenant_context(client):
                invitation = invite_member(
                    invited_by=by,
                    host=_portal_host(client, port),
                    secure=secure,
                    email=order.contact_email,
                    first_name=order.contact_first_name,
                    last_name=order.contact_last_name,
                    role=Role.CLIENT_ADMIN,
                )
        before = contract.state
        contract.state = Contract.State.SENT if contract.in_force is None else Contract.State.ACCEPTED
        contract.save(update_fields=["state", "client"])
        if order.state in (Order.State.SUBMITTED, Order.State.DRAFTING):
            record_event(
                actor=by,
                action="order.sent",
                obj=order,
                client=client,
                before={"state": order.state},
                after={"state": Order.State.SENT},
            )
            order.state = Order.State.SENT
        order.save(update_fields=["state", "client", "updated_at"])
        record_event(
            actor=by,
            action="contract.sent",
            obj=contract,
            client=client,
            before={"state": before},
            after={"state": contract.state, "version": version.number, "sha256": version.pdf_sha256},
        )
    return Sending(version, invitation)


def contract_accept(
    *, version: ContractVersion, user: User, ip: str | None, user_agent: str = ""
) -> Acceptance:
    """The client admin accepts a sent version; the first acceptance issues the first invoice."""
    if not CLIENT_ADMINS.allows(user):
        raise OnboardingError("Only your company's admins can accept the contract.")
    with transaction.atomic():
        contract = Contract.objects.select_for_update().get(pk=version.contract_id)
        version = ContractVersion.objects.select_for_update().get(pk=version.pk)
        if version.state != ContractVersion.State.SENT or contract.latest.pk != version.pk:
            raise OnboardingError(f"Version {version.number} is not the one awaiting your acceptance.")
        sha256 = hashlib.sha256(bytes(version.pdf)).hexdigest()
        acceptance = Acceptance.objects.create(
            version=version,
            client=contract.client,
            user_id=user.pk,
            user_name=user.get_full_name() or user.username,
            user_email=user.email,
            ip=ip,
            user_agent=user_agent[:300],
            pdf_sha256=sha256,
        )
        if contract.in_force is not None:
            ContractVersion.objects.filter(pk=contract.in_force_id).update(
                state=ContractVersion.State.SUPERSEDED
            )
        version.state = ContractVersion.State.ACCEPTED
        version.save(update_fields=["state"])
        before = contract.state
        contract.state = Contract.State.ACCEPTED
        contract.in_force = version
        contract.save(update_fields=["state", "in_force"])
        record_event(
            actor=user,
            action="contract.accepted",
            obj=contract,
            client=contract.client,
            ip=ip,
            before={"state": before},
            after={"state": contract.state, "version": version.number, "sha256": sha256},
        )
        order = Order.objects.select_for_update().get(pk=contract.order_id)
        if order.state == Order.State.SENT:
            order.state = Order.State.ACCEPTED
            order.save(update_fields=["state", "updated_at"])
            record_event(
                actor=user,
                action="order.accepted",
                obj=order,
                client=contract.client,
                before={"state": Order.State.SENT},
                after={"state": order.state},
            )
        if contract.client.status != Client.Status.PROSPECT:  # a live company: the new terms apply now
            queue_terms_apply(client=contract.client, terms=version.terms, actor=user)
        else:
            try:
                first_invoice_issue(contract=contract, version=version)
            except FirstInvoiceError as error:
                raise OnboardingError(str(error)) from error
        if contract.is_paid:
            client_provision(contract=contract, actor=user)
    return acceptance
