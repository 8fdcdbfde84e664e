"""Monthly invoices from the contract's tariffs and the call records, in ``Decimal`` money.

The conventions (tax, rounding, proration, effective dating, credit notes) are written down in
``docs/billing.md``; in short:
- each local day of the month (the company's time zone) is priced by the contract version in
  force that day, and only days of service (from the start date to the end date) are billed: fees
  are prorated by those days, usage counts the calls that started on them;
- a line's amount is computed from exact quantities (billed seconds / 60, days / days in the
  month) and rounded once, half up, to the currency's smallest unit; tax is computed once per
  rate on the invoice's net at that rate, rounded the same way; gross = net + tax;
- a credit note's tax is the difference of the rounded tax on all credits so far, so credit
  notes crediting the whole net give back exactly the invoice's tax.

Which calls a service bills (a call counts on the local day it started):
- inbound: handled inbound calls, talk + hold seconds;   - outbound: handled outbound calls, talk;
- survey: calls run by a survey script that were handled or finished in the IVR, talk + hold;
- ivr: calls that entered the IVR, from ``ivr_started_at`` to the queue (or the end), exactly;
- recording: recorded calls, ``recording_seconds``;        - transfer: transferred calls (per call).
Other services (coverage, languages) bill their monthly fee. Seconds are rounded up per call by
the tariff's rule and summed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import zoneinfo
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

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
from reporting.suspensions import without_suspended_days
from reporting.webhooks import emit_invoice_issued
from telephony.calls.models import Call
from tenants.contracts import Tax, contract_tax, service_period
from tenants.first_invoices import FirstInvoiceError, invoice_currency
from tenants.models import Contract, ContractVersion, Service
from tenants.money import minor_unit, money, tax_breakdown, whole

CENT = Decimal("0.01")
# Quantities are shown to 4 places; amounts are computed from the exact quantity.
QUANTITY = Decimal("0.0001")
# A rule "first/step": a call is billed at least ``first`` seconds, then in ``step``-second steps.
RULES = {"1/1": (1, 1), "6/6": (6, 6), "30/6": (30, 6), "60/60": (60, 60)}


def rounded_seconds(seconds: int | Decimal, rule: str) -> int:
    """The seconds billed for one call of ``seconds`` under ``rule`` (0 s bills nothing)."""
    first, step = RULES[rule]
    if seconds <= 0:
        return 0
    if seconds <= first:
        return first
    return first + math.ceil((Decimal(seconds) - first) / step) * step


def _rounded_sql(seconds: str, rule: str) -> Case:
    """``rounded_seconds`` as a database expression over the annotation ``seconds``."""
    first, step = RULES[rule]
    steps = Ceil(Cast(F(seconds) - first, DecimalField(max_digits=20, decimal_places=6)) / Value(step))
    return Case(
        When(**{f"{seconds}__lte": 0}, then=Value(0)),
        When(**{f"{seconds}__lte": first}, then=Value(first)),
        default=Value(first) + Cast(steps, IntegerField()) * Value(step),
        output_field=IntegerField(),
    )


def _seconds(field: str) -> Coalesce:
    return Coalesce(F(field), 0)


def _ivr_seconds() -> Cast:
    """The exact time in the IVR (fractions of a second kept: the rule rounds it up)."""
    until = Coalesce(F("queued_at"), F("ended_at"), F("ivr_started_at"))
    return Cast(Extract(until - F("ivr_started_at"), "epoch"), DecimalField(max_digits=20, decimal_places=6))


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


@dataclass(frozen=True)
class Period:
    """Consecutive local days of service priced by one contract version."""

    version: object  # tenants.models.ContractVersion
    first: dt.date
    last: dt.date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def contract_periods(contract, first: dt.date, last: dt.date, zone: zoneinfo.ZoneInfo) -> list[Period]:
    """The days from ``first`` to ``last`` that are in service, split by the contract version in force.

    The first accepted version governs from the start; each later one from the local day after
    its acceptance (an acceptance never re-prices days already served). A day counts when it is
    within the governing version's start and end dates.
    """
    versions = list(
        ContractVersion.objects.filter(contract=contract)
        .filter(Q(acceptance__isnull=False) | Q(pk=contract.in_force_id))
        .select_related("acceptance")
        .order_by("number")
    )
    effective = [dt.date.min] + [_accepted_on(v, zone) + dt.timedelta(days=1) for v in versions[1:]]
    periods = []
    for index, version in enumerate(versions):
        until = effective[index + 1] - dt.timedelta(days=1) if index + 1 < len(versions) else dt.date.max
        start, end = service_period(version.terms)
        begin = max(first, effective[index], start or dt.date.min)
        finish = min(last, until, end or dt.date.max)
        if begin <= finish:
            periods.append(Period(version=version, first=begin, last=finish))
    return periods


def _accepted_on(version, zone: zoneinfo.ZoneInfo) -> dt.date:
    acceptance = getattr(version, "acceptance", None)
    at = acceptance.accepted_at if acceptance else (version.sent_at or version.created_at)
    return at.astimezone(zone).date()


def _service_kind(code: str) -> str:
    return Service.objects.filter(code=code).values_list("kind", flat=True).first() or code


def line_calls(line: InvoiceLine) -> QuerySet[Call]:
    """The call records behind a usage line (its ``call_count`` is their number when built)."""
    condition, _ = USAGE[_service_kind(line.service_code)]
    first, last = month_bounds(line.invoice.period_start)
    return _period_calls(line.period_start or first, line.period_end or last, local_zone()).filter(condition)


def _period_calls(first: dt.date, last: dt.date, zone: zoneinfo.ZoneInfo) -> QuerySet[Call]:
    start, _ = day_bounds(first, zone)
    _, end = day_bounds(last, zone)
    return Call.objects.filter(started_at__gte=start, started_at__lt=end).order_by()


def _usage(calls: QuerySet[Call], kind: str, rule: str) -> tuple[int, int]:
    """(calls, billed seconds) of one service over a period, aggregated in the database."""
    condition, seconds = USAGE[kind]
    scoped = calls.filter(condition)
    if seconds is None:
        return scoped.count(), 0
    found = scoped.annotate(raw=seconds()).annotate(billed=_rounded_sql("raw", rule))
    result = found.aggregate(n=Count("id"), s=Coalesce(Sum("billed"), 0))
    return result["n"], result["s"]


def _lines(
    period: Period, calls: QuerySet[Call], *, month_days: int, currency: str, suffix: str
) -> list[dict[str, object]]:
    """The lines of one period: prorated fees and usage, each amount rounded once."""
    lines: list[dict[str, object]] = []
    for tariff in period.version.tariffs:
        code, name = tariff["service_code"], tariff["service"]
        fee, per_minute, per_call = (Decimal(tariff[k]) for k in ("monthly_fee", "per_minute", "per_call"))
        rule = tariff.get("rounding") or "1/1"
        if fee:
            whole = period.days == month_days
            days = Decimal(period.days) / month_days
            lines.append(
                {
                    "service_code": code,
                    "kind": "monthly_fee",
                    "description": f"{name}: monthly fee"
                    + ("" if whole else f", {period.days} of {month_days} days")
                    + suffix,
                    "quantity": Decimal(1) if whole else days,
                    "unit_price": fee,
                    "amount": money(fee if whole else fee * period.days / month_days, currency),
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
                    "description": f"{name}: minutes ({rule})" + suffix,
                    "quantity": Decimal(seconds) / 60,
                    "unit_price": per_minute,
                    "amount": money(Decimal(seconds) * per_minute / 60, currency),
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
                    "description": f"{name}: calls" + suffix,
                    "quantity": Decimal(count),
                    "unit_price": per_call,
                    "amount": money(count * per_call, currency),
                    "call_count": count,
                    "rounding": "",
                }
            )
    for line in lines:
        line["quantity"] = line["quantity"].quantize(QUANTITY, rounding=ROUND_HALF_UP)
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
    zone = local_zone()
    periods = without_suspended_days(contract_periods(contract, first, last, zone), zone)
    if not periods:
        raise ValidationError(
            f"No day of {first:%B %Y} is in the contract's service period: nothing to invoice."
        )
    tariffs = [t for period in periods for t in period.version.tariffs]
    if not tariffs:
        raise ValidationError("The contract prices no service: nothing to invoice.")
    try:  # the same currency rule as the first invoice's
        currency = invoice_currency(tariffs)
    except FirstInvoiceError as error:
        raise ValidationError(str(error)) from error
    month_days = (last - first).days + 1
    lines: list[dict[str, object]] = []
    groups: dict[Tax, Decimal] = {}
    for period in periods:
        tax = contract_tax(period.version.terms)
        whole = (period.first, period.last) == (first, last)
        suffix = (
            ""
            if whole
            else f" ({period.first:%Y-%m-%d} to {period.last:%Y-%m-%d}, contract v{period.version.number})"
        )
        for line in _lines(
            period, _period_calls(period.first, period.last, zone), month_days=month_days, currency=currency,
            suffix=suffix,
        ):  # fmt: skip
            line.update(
                period_start=period.first,
                period_end=period.last,
                contract_version=period.version.number,
                tax_percent=tax.rate,
                reverse_charge=tax.reverse_charge,
            )
            groups[tax] = groups.get(tax, Decimal("0.00")) + line["amount"]
            lines.append(line)
    for position, line in enumerate(lines, start=1):
        line["position"] = position
    taxes = tax_breakdown(groups, currency)
    subtotal = sum((line["amount"] for line in lines), Decimal("0.00"))
    tax_total = sum((Decimal(t["tax"]) for t in taxes), Decimal("0.00"))
    rates = {t["percent"] for t in taxes}
    header = {
        "number": f"INV-{connection.tenant.slug.upper()}-{first:%Y-%m}",
        "period_end": last,
        "currency": currency,
        "contract_reference": contract.reference,
        "subtotal": subtotal,
        "tax_percent": Decimal(rates.pop()) if len(rates) == 1 else None,
        "taxes": taxes,
        "tax": tax_total,
        "total": subtotal + tax_total,
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


def allocate(amount: Decimal, weights: list[Decimal], unit: Decimal) -> list[Decimal]:
    """``amount`` split in proportion to ``weights`` in whole ``unit``s, adding up exactly.

    Each share is rounded down, and the units left go to the largest remainders (the first on a tie):
    ``amount`` equal to the weights' sum gives back each weight.
    """
    total = sum(weights)
    if not total:
        return [Decimal("0.00") for _ in weights]
    exact = [amount * w / total for w in weights]
    shares = [e.quantize(unit, rounding=ROUND_FLOOR) for e in exact]
    left = int((amount - sum(shares)) / unit)
    for index in sorted(range(len(weights)), key=lambda i: (shares[i] - exact[i], i))[:left]:
        shares[index] += unit
    return shares


@transaction.atomic
def credit_note_create(*, invoice: Invoice, subtotal: Decimal, reason: str, by: str = "") -> CreditNote:
    """Correct an issued invoice by crediting ``subtotal`` of its net, spread over its tax rates.

    The tax credited is cumulative: (tax on everything credited so far, this note included)
    minus (tax on what was credited before), each rounded by the invoice's rule. Notes crediting
    the whole net therefore give back exactly the invoice's tax, however the net was split.
    """
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.state == Invoice.State.DRAFT:
        raise ValidationError("A draft is corrected by rebuilding it, not by a credit note.")
    unit = minor_unit(invoice.currency)
    amount = Decimal(subtotal)
    if not whole(amount, invoice.currency):
        raise ValidationError(f"{invoice.currency} amounts are in steps of {unit}.")
    credited = sum((c.subtotal for c in invoice.credit_notes.all()), Decimal("0.00"))
    if amount <= 0 or credited + amount > invoice.subtotal:
        raise ValidationError("A credit note credits more than nothing and at most what was invoiced.")
    groups = invoice.tax_rates
    nets = [g["net"] for g in groups]
    before = allocate(credited, nets, unit)
    after = allocate(credited + amount, nets, unit)

    def tax_on(net: Decimal, group: dict[str, object]) -> Decimal:
        if net == group["net"]:
            return group["tax"]  # all of it: exactly the invoice's tax at this rate
        return money(net * group["percent"] / 100, invoice.currency)

    taxes = [
        {
            "percent": str(group["percent"]),
            "net": str(now - was),
            "tax": str(tax_on(now, group) - tax_on(was, group)),
            "reverse_charge": group["reverse_charge"],
        }
        for group, was, now in zip(groups, before, after, strict=True)
    ]
    tax = sum((Decimal(t["tax"]) for t in taxes), Decimal("0.00"))
    number = f"CN-{invoice.number.removeprefix('INV-')}-{invoice.credit_notes.count() + 1}"
    return CreditNote.objects.create(
        invoice=invoice,
        number=number,
        reason=reason,
        subtotal=amount,
        tax=tax,
        total=amount + tax,
        taxes=taxes,
        created_by_name=by,
    )
