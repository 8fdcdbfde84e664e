"""Payments recorded by the account manager against an invoice, amount and currency checked.

The first invoice: a partial payment leaves a balance due and does not start the service; an
over-payment is held as the client's credit; paid in full (or overridden by an account manager,
with a reason) the client company goes live (``onboarding.client_provision``). Monthly invoices
(in the client's schema) are paid through ``reporting.invoicing``, which keeps their payments here
too (``payments_of``), so one table holds every payment of a contract.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import User
from tenants.audit import record_event
from tenants.models import Client, Contract, FirstInvoice, Payment
from tenants.money import minor_unit, whole
from tenants.onboarding import OnboardingError, client_provision

MIN_REASON = 10


def check_payment(
    *,
    invoice_number: str,
    invoice_currency: str,
    currency: str,
    amount: Decimal,
    paid_on: datetime.date,
    issued_on: datetime.date,
) -> str:
    """The checks every payment passes; returns the currency in capitals."""
    currency = currency.strip().upper()
    if currency != invoice_currency:
        raise OnboardingError(
            f"Invoice {invoice_number} is in {invoice_currency}: a payment in {currency} cannot be recorded "
            "against it (convert it first and record what the bank credited)."
        )
    if Decimal(amount) <= 0:
        raise OnboardingError("A payment is more than nothing.")
    if paid_on < issued_on:
        raise OnboardingError(
            f"Invoice {invoice_number} was issued on {issued_on}: it cannot be paid before."
        )
    if paid_on > timezone.localdate():
        raise OnboardingError("A payment cannot be dated in the future.")
    return currency


def payment_save(
    *,
    contract: Contract,
    by: User,
    invoice_number: str,
    amount: Decimal,
    currency: str,
    paid_on: datetime.date,
    reference: str,
    invoice: FirstInvoice | None = None,
    from_credit: bool = False,
) -> Payment:
    """The one builder of a payment (in the caller's transaction): the amount in whole units of its
    currency, the row validated before it is written."""
    amount = Decimal(str(amount))
    if not whole(amount, currency):
        raise OnboardingError(f"{currency} has no amounts smaller than {minor_unit(currency)}: {amount}.")
    payment = Payment(
        contract=contract,
        invoice=invoice,
        invoice_number=invoice_number,
        amount=amount,
        currency=currency,
        paid_on=paid_on,
        reference=reference.strip(),
        from_credit=from_credit,
        recorded_by_name=by.get_full_name() or by.username,
    )
    payment.full_clean()
    payment.save()
    return payment


def payment_record(
    *, contract: Contract, by: User, amount: Decimal, currency: str, paid_on: datetime.date, reference: str
) -> Payment:
    """Record a payment against the contract's first invoice; paid in full, the client goes live."""
    with transaction.atomic():
        contract = Contract.objects.select_for_update().get(pk=contract.pk)
        invoice = FirstInvoice.objects.select_for_update().filter(contract=contract).first()
        if invoice is None:
            raise OnboardingError(
                "The first invoice is issued when the client accepts the contract: record its payment then."
            )
        amount = Decimal(str(amount))
        currency = check_payment(
            invoice_number=invoice.number,
            invoice_currency=invoice.currency,
            currency=currency,
            amount=amount,
            paid_on=paid_on,
            issued_on=invoice.issued_on,
        )
        before = {"paid": str(invoice.paid), "balance_due": str(invoice.balance_due)}
        payment = payment_save(
            contract=contract, by=by, invoice=invoice, invoice_number=invoice.number, amount=amount,
            currency=currency, paid_on=paid_on, reference=reference,
        )  # fmt: skip
        invoice.paid += payment.amount
        record_event(
            actor=by,
            action="invoice.payment",
            obj=invoice,
            client=contract.client,
            before=before,
            after={
                "amount": str(amount),
                "currency": currency,
                "reference": payment.reference,
                "paid_on": paid_on.isoformat(),
                "paid": str(invoice.paid),
                "balance_due": str(invoice.balance_due),
                "credit": str(invoice.credit),
            },
        )
        if invoice.is_paid:
            client_provision(contract=contract, actor=by)
    return payment


def go_live_override(*, contract: Contract, by: User, reason: str) -> FirstInvoice:
    """An account manager starts the service before the first invoice is paid in full; the reason
    and the balance still due go into the audit trail."""
    reason = " ".join(reason.split())
    if len(reason) < MIN_REASON:
        raise OnboardingError(
            f"Say why the service starts before payment (at least {MIN_REASON} characters)."
        )
    with transaction.atomic():
        contract = Contract.objects.select_for_update().get(pk=contract.pk)
        invoice = FirstInvoice.objects.select_for_update().filter(contract=contract).first()
        if invoice is None:
            raise OnboardingError("The client has not accepted the contract yet: there is no first invoice.")
        if invoice.is_paid or invoice.override_reason:
            raise OnboardingError(f"Invoice {invoice.number} is paid or was already overridden.")
        invoice.override_reason = reason[:500]
        invoice.override_by_name = by.get_full_name() or by.username
        invoice.override_at = timezone.now()
        invoice.save(update_fields=["override_reason", "override_by_name", "override_at"])
        record_event(
            actor=by,
            action="client.go_live_override",
            obj=invoice,
            client=contract.client,
            after={"reason": invoice.override_reason, "balance_due": str(invoice.balance_due)},
        )
        client_provision(contract=contract, actor=by)
    return invoice


def invoice_payment_record(
    *,
    client: Client,
    invoice_number: str,
    invoice_currency: str,
    issued_on: datetime.date,
    amount: Decimal,
    currency: str,
    paid_on: datetime.date,
    reference: str,
    by: User,
) -> tuple[Payment, Decimal]:
    """Record a payment against a monthly invoice of ``client`` (in the caller's transaction, which
    also marks the invoice paid when it is); returns the payment and all paid against the invoice."""
    contract = _contract_of(client)
    amount = Decimal(str(amount))
    currency = check_payment(
        invoice_number=invoice_number, invoice_currency=invoice_currency, currency=currency, amount=amount,
        paid_on=paid_on, issued_on=issued_on,
    )  # fmt: skip
    payment = payment_save(
        contract=contract, by=by, invoice_number=invoice_number, amount=amount, currency=currency,
        paid_on=paid_on, reference=reference,
    )  # fmt: skip
    return payment, payments_of(invoice_number=invoice_number)


def payments_of(*, invoice_number: str) -> Decimal:
    """What was paid against an invoice, by its number."""
    return Payment.objects.filter(invoice_number=invoice_number).aggregate(s=Sum("amount"))["s"] or Decimal(
        "0.00"
    )


def credit_pay(
    *, client: Client, invoice_number: str, currency: str, amount: Decimal, paid_on: datetime.date, by: User
) -> Payment:
    """Pay ``amount`` of an invoice out of the client's credit (the caller checked it is there)."""
    return payment_save(
        contract=_contract_of(client), by=by, invoice_number=invoice_number, amount=amount, currency=currency,
        paid_on=paid_on, reference=f"CREDIT {invoice_number}", from_credit=True,
    )  # fmt: skip


def _contract_of(client: Client) -> Contract:
    """The contract a monthly invoice's payment is recorded under (locked): the one in force."""
    contract = Contract.objects.select_for_update().filter(client=client).order_by("-in_force_id").first()
    if contract is None:
        raise OnboardingError("This client company has no contract to record a payment under.")
    return contract
