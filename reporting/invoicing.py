"""Invoices handled from the back office: each action runs in the client company's schema and is
audited in the platform's log, in one transaction (the audit event and the change commit together).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django_tenants.utils import tenant_context

from reporting import billing, stats
from reporting.billing_models import CreditNote, Invoice
from tenants import payments
from tenants.audit import record_event
from tenants.models import Client, FirstInvoice, Payment
from tenants.onboarding import OnboardingError


def _invoice(pk: int) -> Invoice:
    invoice = Invoice.objects.filter(pk=pk).first()
    if invoice is None:
        raise Invoice.DoesNotExist(f"No invoice {pk} for this client company.")
    return invoice


def do_build_draft(*, client: Client, month: dt.date, actor: object, ip: str | None = None) -> Invoice:
    """Build or rebuild the month's draft; refused when that month's invoice was already issued."""
    with transaction.atomic():
        with tenant_context(client):
            existing = Invoice.objects.filter(period_start=month.replace(day=1)).first()
            if existing and existing.state != Invoice.State.DRAFT:
                raise ValidationError(f"Invoice {existing.number} was issued: correct it with a credit note.")
            invoice = billing.invoice_build(month=month)
        record_event(
            actor=actor,
            action="invoice.rebuilt" if existing else "invoice.drafted",
            obj=invoice,
            client=client,
            after={"number": invoice.number, "total": str(invoice.total), "digest": invoice.digest},
            ip=ip,
        )
    return invoice


def check_month_ended(invoice: Invoice, *, now: dt.datetime | None = None) -> None:
    """A month is issued only once it has ended in the company's time zone (its calls are all in)."""
    today = (now or timezone.now()).astimezone(stats.local_zone()).date()
    if invoice.period_end >= today:
        raise ValidationError(
            f"{invoice.period_start:%B %Y} has not ended yet in the company's time zone: "
            f"issue its invoice from {invoice.period_end + dt.timedelta(days=1):%Y-%m-%d}."
        )


def do_issue(
    *, client: Client, invoice_id: int, actor: object, ip: str | None = None, now: dt.datetime | None = None
) -> Invoice:
    with transaction.atomic():
        with tenant_context(client):
            draft = _invoice(invoice_id)
            if draft.state == Invoice.State.DRAFT:
                check_month_ended(draft, now=now)
            invoice = billing.invoice_issue(invoice=draft)
        record_event(
            actor=actor,
            action="invoice.issued",
            obj=invoice,
            client=client,
            before={"state": "draft"},
            after={"state": invoice.state, "number": invoice.number, "total": str(invoice.total)},
            ip=ip,
        )
        invoice = _pay_from_credit(client=client, invoice=invoice, actor=actor, ip=ip)
    return invoice


def _due(invoice: Invoice) -> Decimal:
    """What an issued invoice asks for: its total less its credit notes (in the company's schema)."""
    return invoice.total - sum((note.total for note in invoice.credit_notes.all()), Decimal("0.00"))


def client_credit(client: Client) -> dict[str, Decimal]:
    """The client's credit by currency: what it paid beyond the first invoice and beyond each
    monthly invoice's total less its credit notes, less what that credit has paid since."""
    over: dict[str, Decimal] = {}
    first = FirstInvoice.objects.with_paid().filter(client=client).defer("pdf").first()
    if first is not None and first.credit:
        over[first.currency] = first.credit
    with tenant_context(client):
        for invoice in Invoice.objects.exclude(state=Invoice.State.DRAFT).defer("pdf"):
            paid = payments.payments_of(invoice_number=invoice.number)
            extra = paid - _due(invoice)
            if extra > 0:
                over[invoice.currency] = over.get(invoice.currency, Decimal("0.00")) + extra
    used = Payment.objects.filter(contract__client=client, from_credit=True).values("currency")
    for row in used.annotate(amount=Sum("amount")):
        over[row["currency"]] = over.get(row["currency"], Decimal("0.00")) - row["amount"]
    return {currency: amount for currency, amount in over.items() if amount > 0}


def _pay_from_credit(*, client: Client, invoice: Invoice, actor: object, ip: str | None) -> Invoice:
    """A newly issued invoice is paid out of the client's credit first (as far as it goes, in the
    invoice's currency): an over-payment is never left for the client to ask back."""
    credit = client_credit(client).get(invoice.currency, Decimal("0.00"))
    with tenant_context(client):
        due = _due(invoice) - payments.payments_of(invoice_number=invoice.number)
    amount = min(credit, due)
    if amount <= 0:
        return invoice
    paid_on = invoice.issued_at.date()
    payments.credit_pay(
        client=client, invoice_number=invoice.number, currency=invoice.currency, amount=amount,
        paid_on=paid_on, by=actor,
    )  # fmt: skip
    record_event(
        actor=actor, action="invoice.credit_applied", obj=invoice, client=client, ip=ip,
        after={"amount": str(amount), "currency": invoice.currency, "balance_due": str(due - amount),
               "credit_left": str(credit - amount)},
    )  # fmt: skip
    if amount == due:
        with tenant_context(client):
            invoice = billing.invoice_mark_paid(invoice=invoice, at=invoice.issued_at, reference="credit")
    return invoice


def do_mark_paid(
    *,
    client: Client,
    invoice_id: int,
    paid_on: dt.date,
    reference: str,
    actor: object,
    ip: str | None = None,
    amount: Decimal,
    currency: str,
) -> Invoice:
    """Record a payment of ``amount`` in ``currency`` against an issued invoice on ``paid_on``; it is
    paid once the payments cover its total less its credit notes (a partial payment leaves it issued
    with a balance due; an over-payment is kept as the client's credit)."""
    at = dt.datetime.combine(paid_on, dt.time(12), tzinfo=dt.UTC)
    with transaction.atomic():
        with tenant_context(client):
            invoice = _invoice(invoice_id)
            if invoice.state != Invoice.State.ISSUED:
                raise ValidationError("Only an issued invoice can be paid.")
            if paid_on < invoice.issued_at.date():
                raise ValidationError("An invoice cannot be paid before it was issued.")
            due = _due(invoice)
        try:
            _, paid = payments.invoice_payment_record(
                client=client, invoice_number=invoice.number, invoice_currency=invoice.currency,
                issued_on=invoice.issued_at.date(), amount=amount, currency=currency, paid_on=paid_on,
                reference=reference, by=actor,
            )  # fmt: skip
        except OnboardingError as error:
            raise ValidationError(str(error)) from error
        balance = {"paid": str(paid), "balance_due": str(max(due - paid, Decimal("0.00"))),
                   "credit": str(max(paid - due, Decimal("0.00")))}  # fmt: skip
        if paid < due:
            record_event(
                actor=actor, action="invoice.payment", obj=invoice, client=client, ip=ip,
                after={"amount": str(amount), "currency": currency.upper(), "reference": reference.strip(),
                       "paid_on": paid_on.isoformat(), **balance},
            )  # fmt: skip
            return invoice
        with tenant_context(client):
            invoice = billing.invoice_mark_paid(invoice=invoice, at=at, reference=reference.strip())
        record_event(
            actor=actor,
            action="invoice.paid",
            obj=invoice,
            client=client,
            before={"state": "issued"},
            after={
                "state": invoice.state,
                "paid_on": paid_on.isoformat(),
                "reference": invoice.payment_reference,
                "amount": str(amount),
                **balance,
            },
            ip=ip,
        )
    return invoice


def do_credit(
    *, client: Client, invoice_id: int, subtotal: Decimal, reason: str, actor: object, ip: str | None = None
) -> CreditNote:
    by = getattr(actor, "get_full_name", lambda: "")() or getattr(actor, "username", "")
    with transaction.atomic():
        with tenant_context(client):
            note = billing.credit_note_create(
                invoice=_invoice(invoice_id), subtotal=subtotal, reason=reason, by=by
            )
        record_event(
            actor=actor,
            action="invoice.credited",
            obj=note,
            client=client,
            after={"number": note.number, "invoice": invoice_id, "total": str(note.total), "reason": reason},
            ip=ip,
        )
    return note
