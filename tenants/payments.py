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
from tenants.money import money
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
        was_paid = invoice.paid
        payment = Payment(
            contract=contract,
            invoice=invoice,
            invoice_number=invoice.number,
            amount=amount,
            currency=currency,
            paid_on=paid_on,
            reference=reference.strip(),
            recorded_by_name=by.get_full_name() or by.username,
        )
        payment.full_clean()
        payment.save()
        paid = money(was_paid + amount, currency)
        record_event(
            actor=by,
            action="invoice.payment",
            obj=invoice,
            client=contract.client,
            before={"paid": str(was_paid), "balance_due": str(invoice.balance_due)},
            after={
                "amount": str(amount),
                "currency": currency,
                "reference": payment.reference,
                "paid_on": paid_on.isoformat(),
                "paid": str(paid),
                "balance_due": str(money(max(invoice.total - paid, Decimal(0)), currency)),
                "credit": str(money(max(paid - invoice.total, Decimal(0)), currency)),
            },
        )
        if paid >= invoice.total:
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
    contract = Contract.objects.select_for_update().filter(client=client).order_by("-in_force_id").first()
    if contract is None:
        raise OnboardingError("This client company has no contract to record a payment under.")
    amount = Decimal(str(amount))
    currency = check_payment(
        invoice_number=invoice_number, invoice_currency=invoice_currency, currency=currency, amount=amount,
        paid_on=paid_on, issued_on=issued_on,
    )  # fmt: skip
    payment = Payment(contract=contract, invoice_number=invoice_number, amount=amount, currency=currency,
                      paid_on=paid_on, reference=reference.strip(),
                      recorded_by_name=by.get_full_name() or by.username)  # fmt: skip
    payment.full_clean()
    payment.save()
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
    contract = Contract.objects.select_for_update().filter(client=client).order_by("-in_force_id").first()
    if contract is None:
        raise OnboardingError("This client company has no contract to record a payment under.")
    payment = Payment(contract=contract, invoice_number=invoice_number, amount=amount, currency=currency,
                      paid_on=paid_on, reference=f"CREDIT {invoice_number}", from_credit=True,
                      recorded_by_name=by.get_full_name() or by.username)  # fmt: skip
    payment.full_clean()
    payment.save()
    return payment
