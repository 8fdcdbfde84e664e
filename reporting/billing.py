"""Monthly invoices from the contract's tariffs and the call records, in ``Decimal`` money.

Which calls a service bills (a call counts in the local month it started):
- inbound: handled inbound calls, talk + hold seconds;   - outbound: handled outbound calls, talk;
- survey: calls run by a survey script that were handled or finished in the IVR, talk + hold;
- ivr: calls that entered the IVR, from ``ivr_started_at`` to the queue (or the end);
- recording: recorded calls, ``recording_seconds``;        - transfer: transferred calls (per call).
Other services (coverage, languages) bill their monthly fee. Seconds are rounded per call by the
tariff's rule, summed, priced per minute, and amounts rounded half-up to the cent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Ceil, Coalesce, Extract
from django.utils import timezone

from reporting.billing_models import CreditNote, Invoice, InvoiceLine
from reporting.invoice_pdf import render_pdf
from reporting.stats import day_bounds, local_zone
from reporting.webhooks import emit_invoice_issued
from telephony.calls.models import Call
from tenants.models import Contract, Service

CENT = Decimal("0.01")
# A rule "first/step": a call is billed at least ``first`` seconds, then in ``step``-second steps.
RULES = {"1/1": (1, 1), "6/6": (6, 6), "30/6": (30, 6), "60/60": (60, 60)}


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def rounded_seconds(seconds: int, rule: str) -> int:
    """The seconds billed for one call of ``seconds`` under ``rule`` (0 s bills nothing)."""
    first, step = RULES[rule]
    if seconds <= 0:
        return 0
    if seconds <= first:
        return first
    return first + math.ceil((seconds - first) / step) * step


def _rounded_sql(seconds: str, rule: str) -> Case:
    """``rounded_seconds`` as a database expression over the annotation ``seconds``."""
    first, step = RULES[rule]
    steps = Ceil(Cast(F(seconds) - first, DecimalField(max_digits=12, decimal_places=2)) / Value(step))
    return Case(
        When(**{f"{seconds}__lte": 0}, then=Value(0)),
        When(**{f"{seconds}__lte": first}, then=Value(first)),
        default=Value(first) + Cast(steps, IntegerField()) * Value(step),
        output_field=IntegerField(),
    )


def _seconds(field: str) -> Coalesce:
    return Coalesce(F(field), 0)


def _ivr_seconds() -> Cast:
    until = Coalesce(F("queued_at"), F("ended_at"), F("ivr_started_at"))
    return Cast(Extract(until - F("ivr_started_at"), "epoch"), IntegerField())


HANDLED = Q(outcome=Call.Outcome.HANDLED)
SURVEY = Q(script_session__version__script__purpose="survey")
# service kind → (the calls it bills, their billable seconds or None for per-call only)
USAGE = {
    "inbound": (HANDLED & Q(direction="inbound"), lambda: _seconds("talk_seconds") + F("hold_seconds")),
    "outbound": (HANDLED & Q(direction="outbound"), lambda: _seconds("talk_seconds")),
    "survey": (
        SURVEY & Q(outcome__in=["handled", "completed_in_ivr"]),
        lambda: _seconds("talk_seconds") + F("hold_seconds"),
    ),
    "ivr": (Q(ivr_started_at__isnull=False), _ivr_seconds),
    "recording": (Q(recording_seconds__gt=0), lambda: _seconds("recording_seconds")),
    "transfer": (~Q(transferred_to=""), None),
}


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    first = month.replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return first, last


def contract_in_force():
    """The accepted contract version of the current client company, or None."""
    contract = (
        Contract.objects.filter(client_id=connection.tenant.pk, in_force__isnull=False)
        .select_related("in_force")
        .first()
    )
    return contract


def _service_kind(code: str) -> str:
    return Service.objects.filter(code=code).values_list("kind", flat=True).first() or code


def line_calls(line: InvoiceLine) -> QuerySet[Call]:
    """The call records behind a usage line (its ``call_count`` is their number when built)."""
    condition, _ = USAGE[_service_kind(line.service_code)]
    return _month_calls(line.invoice.period_start).filter(condition)


def _month_calls(first_day: dt.date) -> QuerySet[Call]:
    zone = local_zone()
    first, last = month_bounds(first_day)
    start, _ = day_bounds(first, zone)
    _, end = day_bounds(last, zone)
    return Call.objects.filter(started_at__gte=start, started_at__lt=end).order_by()


def _usage(calls: QuerySet[Call], kind: str, rule: str) -> tuple[int, int]:
    """(calls, billed seconds) of one service over the month, aggregated in the database."""
    condition, seconds = USAGE[kind]
    scoped = calls.filter(condition)
    if seconds is None:
        return scoped.count(), 0
    found = scoped.annotate(raw=seconds()).annotate(billed=_rounded_sql("raw", rule))
    result = found.aggregate(n=Count("id"), s=Coalesce(Sum("billed"), 0))
    return result["n"], result["s"]


def _lines(tariffs: list[dict[str, str]], calls: QuerySet[Call]) -> list[dict[str, object]]:
    lines: list[dict[str, object]] = []
    for tariff in tariffs:
        code, name = tariff["service_code"], tariff["service"]
        fee, per_minute, per_call = (Decimal(tariff[k]) for k in ("monthly_fee", "per_minute", "per_call"))
        rule = tariff.get("rounding") or "1/1"
        if fee:
            lines.append(
                {
                    "service_code": code,
                    "kind": "monthly_fee",
                    "description": f"{name}: monthly fee",
                    "quantity": Decimal(1),
                    "unit_price": fee,
                    "rounding": "",
                }
            )
        kind = _service_kind(code)
        if kind not in USAGE or not (per_minute or per_call):
            continue
        count, seconds = _usage(calls, kind, rule)
        if per_minute and USAGE[kind][1] is not None:
            lines.append(
                {
                    "service_code": code,
                    "kind": "minutes",
                    "description": f"{name}: minutes ({rule})",
                    "quantity": Decimal(seconds) / 60,
                    "unit_price": per_minute,
                    "call_count": count,
                    "billed_seconds": seconds,
                    "rounding": rule,
                }
            )
        if per_call:
            lines.append(
                {
                    "service_code": code,
                    "kind": "calls",
                    "description": f"{name}: calls",
                    "quantity": Decimal(count),
                    "unit_price": per_call,
                    "call_count": count,
                    "rounding": "",
                }
            )
    for position, line in enumerate(lines, start=1):
        line["position"] = position
        line["quantity"] = line["quantity"].quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        line["amount"] = money(line["quantity"] * line["unit_price"])
    return lines


def _digest(invoice: dict[str, object], lines: list[dict[str, object]]) -> str:
    payload = json.dumps({"invoice": invoice, "lines": lines}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def invoice_build(*, month: dt.date) -> Invoice:
    """Build (or rebuild) the draft invoice of ``month``; an issued one is returned untouched."""
    first, last = month_bounds(month)
    existing = Invoice.objects.filter(period_start=first).first()
    if existing and existing.state != Invoice.State.DRAFT:
        return existing
    contract = contract_in_force()
    if contract is None:
        raise ValidationError("No contract in force: nothing to invoice.")
    tariffs = contract.in_force.tariffs
    currencies = {t["currency"] for t in tariffs}
    if len(currencies) != 1:
        raise ValidationError(f"One currency per invoice; the contract has {sorted(currencies)}.")
    tax_percent = Decimal(
        str(contract.in_force.terms.get("tax_percent", getattr(settings, "INVOICE_TAX_PERCENT", "0")))
    )
    lines = _lines(tariffs, _month_calls(first))
    subtotal = sum((line["amount"] for line in lines), Decimal("0.00"))
    tax = money(subtotal * tax_percent / 100)
    header = {
        "number": f"INV-{connection.tenant.slug.upper()}-{first:%Y-%m}",
        "period_end": last,
        "currency": currencies.pop(),
        "contract_reference": contract.reference,
        "subtotal": subtotal,
        "tax_percent": tax_percent,
        "tax": tax,
        "total": subtotal + tax,
    }
    header["digest"] = _digest({**header, "period_start": first}, lines)
    with transaction.atomic():
        invoice, _ = Invoice.objects.select_for_update().update_or_create(
            period_start=first, defaults={**header, "built_at": timezone.now()}
        )
        invoice.lines.all().delete()
        InvoiceLine.objects.bulk_create([InvoiceLine(invoice=invoice, **line) for line in lines])
    return invoice


@transaction.atomic
def invoice_issue(*, invoice: Invoice) -> Invoice:
    """Freeze a draft: its PDF is rendered once and kept; from now on it never changes."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.state != Invoice.State.DRAFT:
        raise ValidationError(f"Invoice {invoice.number} is already {invoice.state}.")
    invoice.issued_at = timezone.now()
    invoice.pdf = render_pdf(invoice=invoice)
    invoice.pdf_sha256 = hashlib.sha256(invoice.pdf).hexdigest()
    invoice.state = Invoice.State.ISSUED
    Invoice.objects.filter(pk=invoice.pk, state=Invoice.State.DRAFT).update(
        state=invoice.state, issued_at=invoice.issued_at, pdf=invoice.pdf, pdf_sha256=invoice.pdf_sha256
    )
    emit_invoice_issued(invoice.pk, invoice.number)  # after commit: the client's webhooks, if any
    return invoice


@transaction.atomic
def invoice_mark_paid(*, invoice: Invoice, at: dt.datetime | None = None, reference: str = "") -> Invoice:
    updated = Invoice.objects.filter(pk=invoice.pk, state=Invoice.State.ISSUED).update(
        state=Invoice.State.PAID, paid_at=at or timezone.now(), payment_reference=reference[:100]
    )
    if not updated:
        raise ValidationError("Only an issued invoice can be paid.")
    invoice.refresh_from_db()
    return invoice


@transaction.atomic
def credit_note_create(*, invoice: Invoice, subtotal: Decimal, reason: str, by: str = "") -> CreditNote:
    """Correct an issued invoice by crediting ``subtotal`` (tax at the invoice's rate)."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.state == Invoice.State.DRAFT:
        raise ValidationError("A draft is corrected by rebuilding it, not by a credit note.")
    subtotal = money(Decimal(subtotal))
    credited = sum((c.subtotal for c in invoice.credit_notes.all()), Decimal("0.00"))
    if subtotal <= 0 or credited + subtotal > invoice.subtotal:
        raise ValidationError("A credit note credits more than nothing and at most what was invoiced.")
    tax = money(subtotal * invoice.tax_percent / 100)
    number = f"CN-{invoice.number.removeprefix('INV-')}-{invoice.credit_notes.count() + 1}"
    return CreditNote.objects.create(
        invoice=invoice,
        number=number,
        reason=reason,
        subtotal=subtotal,
        tax=tax,
        total=subtotal + tax,
        created_by_name=by,
    )
