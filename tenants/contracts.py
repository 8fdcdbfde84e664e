"""Contract text: the default terms drafted from an order, and the PDF rendering (ReportLab).

The PDF is rendered with ``invariant=1`` (no timestamps or random ids in the file), so one
version always renders to the same bytes and its SHA-256 identifies the document.
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape

from django.conf import settings
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from tenants.models import ContractVersion, Order, Tariff
from tenants.money import contract_currency, price, shown
from tenants.queue_terms import (  # noqa: F401 (the defaults are the contract's, named here too)
    DEFAULT_SL_PERCENT,
    DEFAULT_SL_SECONDS,
    QueueTerms,
    QueueTermsSet,
    queue_terms,
    seats_sentence,
)

DEFAULT_TERM_MONTHS = 12
DEFAULT_NOTICE_DAYS = 30
# How long the webhooks behind the invoices are kept when the contract says nothing: two years,
# beyond any invoice's dispute window (``evidence_retention_months``).
DEFAULT_EVIDENCE_RETENTION_MONTHS = 24
# How long an operator's pass of the company's certification quiz is valid (R14), in days.
DEFAULT_CERTIFICATION_VALID_DAYS = 180
# How long call recordings are kept when the contract says nothing (``recording_retention_months``):
# the recordings older than that are deleted, here and at Twilio, by a daily task.
DEFAULT_RECORDING_RETENTION_MONTHS = 12

STANDARD = "standard"
REVERSE_CHARGE = "reverse_charge"
TAX_TREATMENTS = [
    (STANDARD, "Tax added at the contract's rate"),
    (REVERSE_CHARGE, "Reverse charge: the client accounts for the tax (needs the client's VAT id)"),
]


@dataclass(frozen=True)
class Tax:
    """The tax term of a contract version: a rate added to the prices, or reverse charge."""

    treatment: str
    percent: Decimal
    client_vat_id: str = ""

    @property
    def reverse_charge(self) -> bool:
        return self.treatment == REVERSE_CHARGE

    @property
    def rate(self) -> Decimal:
        """The percent charged on invoices: none under reverse charge."""
        return Decimal("0.00") if self.reverse_charge else self.percent

    def sentence(self) -> str:
        if self.reverse_charge:
            return (
                f"Reverse charge: the client (VAT id {self.client_vat_id}) accounts for the value added "
                "tax; invoices carry none."
            )
        return f"Value added tax at {self.percent} % is added to each invoice."


def contract_tax(terms: dict[str, object]) -> Tax:
    """The tax term of a version's ``terms``; a version without one carries no tax."""
    treatment = str(terms.get("tax_treatment") or STANDARD)
    percent = Decimal(str(terms.get("tax_percent") or "0")).quantize(Decimal("0.01"))
    return Tax(treatment=treatment, percent=percent, client_vat_id=str(terms.get("client_vat_id") or ""))


def service_period(terms: dict[str, object]) -> tuple[datetime.date | None, datetime.date | None]:
    """(first day, last day) of service under a version's ``terms``; None where the terms are open."""
    start, end = terms.get("start_date"), terms.get("end_date")
    return (
        datetime.date.fromisoformat(str(start)) if start else None,
        datetime.date.fromisoformat(str(end)) if end else None,
    )


def catalogue_tax_percent(tariffs: list[dict[str, str]]) -> Decimal:
    """The tax the catalogue proposes for these prices: the highest rate among them (they share one)."""
    return max((Decimal(line.get("tax_percent") or "0") for line in tariffs), default=Decimal("0.00"))


def default_terms(*, order: Order) -> dict[str, object]:
    """The template's terms for an order: parties, coverage, service level, term and notice."""
    tariffs = tariffs_for(order=order)
    coverage = (
        "24 hours a day, 7 days a week, 365 days a year"
        if order.coverage == Order.Coverage.ALWAYS
        else f"Business hours: {order.coverage_hours or 'Monday to Friday, 09:00-18:00'}"
    )
    return {
        "provider": {"name": settings.PLATFORM_NAME, "host": settings.PLATFORM_HOST},
        "client": {
            "legal_name": order.legal_name,
            "registration_number": order.registration_number,
            "tax_number": order.tax_number,
            "address": order.address,
            "contact": order.contact_name,
            "email": order.contact_email,
            "phone": order.contact_phone,
        },
        "coverage": coverage,
        "time_zone": order.time_zone,
        "languages": list(order.languages),
        "calls_per_month": order.calls_per_month,
        "peak_hour_calls": order.peak_hour_calls,
        "numbers": order.numbers_wanted,
        "start_date": order.start_date.isoformat(),
        "queues": [row.as_terms() for row in order_queue_terms(order)],
        "term_months": DEFAULT_TERM_MONTHS,
        "notice_days": DEFAULT_NOTICE_DAYS,
        "end_date": "",
        "deposit": "0.00",
        "tax_treatment": STANDARD,
        "tax_percent": str(catalogue_tax_percent(tariffs)),
        "client_vat_id": order.tax_number,
        "suspended_days_billed": False,
        "evidence_retention_months": DEFAULT_EVIDENCE_RETENTION_MONTHS,
        "supervision_visible_to_client": False,
        "certification_valid_days": DEFAULT_CERTIFICATION_VALID_DAYS,
        "recording_retention_months": DEFAULT_RECORDING_RETENTION_MONTHS,
    }


def order_queue_terms(order: Order) -> list[QueueTerms]:
    """The queues an order asks for (``Order.queue_terms``)."""
    return order.queue_terms


def tariffs_for(*, order: Order, on: datetime.date | None = None) -> list[dict[str, str]]:
    """The prices in force today for each ordered service, copied as strings."""
    lines = []
    for service in order.services.order_by("position", "name"):
        tariff: Tariff | None = service.current_tariff(on)
        if tariff is not None:
            lines.append(tariff.as_terms())
    return lines


def monthly_total(tariffs: list[dict[str, str]]) -> dict[str, Decimal]:
    """Sum of monthly fees per currency (the first invoice's amount before usage)."""
    totals: dict[str, Decimal] = {}
    for line in tariffs:
        totals[line["currency"]] = totals.get(line["currency"], Decimal("0")) + Decimal(line["monthly_fee"])
    return totals


BILLING_SENTENCE = (
    "Invoices are monthly. Monthly fees are charged for the days of service in the month (days from "
    "the start date to the end date, counted in the client's time zone); usage is priced by the version "
    "of this contract in force on the day of the call. A later version applies from the day after its "
    "acceptance. Amounts are rounded once per line and tax once per rate and invoice, half up to the "
    "currency's smallest unit."
)


def first_invoice_sentence(terms: dict[str, object], tariffs: list[dict[str, str]]) -> str:
    """What the first invoice charges, as the contract says it."""
    deposit = Decimal(str(terms.get("deposit") or "0"))
    currency = contract_currency(tariffs)
    held = f" and a deposit of {shown(deposit, currency)}, held for the term and set against the last invoice"
    return (
        "On acceptance the client receives the first invoice: the first month's fees in advance"
        + (held if deposit else "")
        + f"; it is due within {settings.INVOICE_DUE_DAYS} days and the service starts once it is paid."
    )


def suspension_and_evidence_sentence(terms: dict[str, object]) -> str:
    """How a suspension is billed and how long the evidence behind the invoices is kept."""
    months = terms.get("evidence_retention_months") or DEFAULT_EVIDENCE_RETENTION_MONTHS
    fees = (
        "Monthly fees run while the service is suspended (suspended days are billed)."
        if terms.get("suspended_days_billed")
        else "A day on which the service is suspended throughout is not billed."
    )
    recordings = terms.get("recording_retention_months") or DEFAULT_RECORDING_RETENTION_MONTHS
    return (
        f"{fees} The events behind each invoice line are kept for {months} months. Call recordings "
        f"are kept for {recordings} months, then deleted; each play, download and deletion is logged."
    )


def supervision_sentence(terms: dict[str, object]) -> str:
    """Whether the client sees, in its calls' details, when a supervisor listened in (R21)."""
    if terms.get("supervision_visible_to_client"):
        return (
            "Supervisors of the provider may listen to, coach the operator on, or join live calls; each "
            "time (who, when, how) is shown in the call's detail to the client."
        )
    return (
        "Supervisors of the provider may listen to, coach the operator on, or join live calls for "
        "quality; the provider keeps a record of each time."
    )


def certification_sentence(terms: dict[str, object]) -> str:
    """How operators are certified for the client (R14), as the contract says it."""
    days = terms.get("certification_valid_days") or DEFAULT_CERTIFICATION_VALID_DAYS
    return (
        "Only operators who have passed the client's certification quiz take its calls; a pass is valid "
        f"for {days} days and is voided when the client's script changes by a major version."
    )


SERVICE_LEVEL_SENTENCE = (
    "For each queue below, the provider answers the stated percent of offered calls within the stated "
    "seconds, measured per calendar month, excluding calls abandoned within 5 seconds. The first queue "
    "is the client's main queue."
)


def queue_rows_for_display(found: QueueTermsSet) -> list[list[str]]:
    """The per-queue table of section 4 (page and PDF): queue, target, reserved seats, cap."""
    rows = [["Queue", "Service level", "Reserved seats", "Maximum at once"]]
    for row in found.rows:
        rows.append(
            [
                row.name, f"{row.sl_percent}% within {row.sl_seconds} seconds",
                str(row.reserved_seats) if row.reserved_seats else "none", row.cap or "no cap",
            ]
        )  # fmt: skip
    return rows


# The contract PDF's tables: a bold header ruled off, thin rules between rows.
TABLE_STYLE = [
    ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9),
    ("FONT", (0, 1), (-1, -1), "Helvetica", 9),
    ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
    ("LINEBELOW", (0, 1), (-1, -1), 0.3, colors.grey),
]


def queue_table(found: QueueTermsSet) -> Table:
    table = Table(
        queue_rows_for_display(found),
        repeatRows=1, colWidths=[45 * mm, 45 * mm, 30 * mm, 50 * mm],
    )  # fmt: skip
    table.setStyle(TableStyle(TABLE_STYLE))
    return table


def _p(text: object, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)


def render_pdf(*, version: ContractVersion) -> bytes:
    """The version as a PDF document; the same version always gives the same bytes."""
    terms = version.terms
    contract = version.contract
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontName="Helvetica", fontSize=10, leading=14)
    heading = ParagraphStyle("h", parent=styles["Heading2"], fontName="Helvetica-Bold", fontSize=12)
    title = ParagraphStyle("t", parent=styles["Title"], fontName="Helvetica-Bold", alignment=TA_CENTER)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        invariant=1,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        title=f"Service contract {contract.reference} v{version.number}",
        author=settings.PLATFORM_NAME,
        creator=settings.PLATFORM_NAME,
        subject="Contact center services",
    )
    client = terms["client"]
    story: list[object] = [
        _p("Contact center service contract", title),
        _p(f"Reference {contract.reference}, version {version.number}", body),
        Spacer(1, 6 * mm),
        _p("1. Parties", heading),
        _p(
            f"The provider: {terms['provider']['name']}, operator of the contact center platform "
            f"at {terms['provider']['host']}.",
            body,
        ),
        _p(
            f"The client: {client['legal_name']}, registration number {client['registration_number']}, "
            f"tax number {client['tax_number']}, {client['address']}; represented by {client['contact']} "
            f"({client['email']}, {client['phone']}).",
            body,
        ),
        _p("2. Services and prices", heading),
    ]
    rows = [["Service", "Monthly fee", "Per minute", "Per call", "Rounding"]]
    for line in version.tariffs:
        currency = line["currency"]
        rows.append(
            [
                line["service"],
                shown(line["monthly_fee"], currency),
                f"{price(line['per_minute'], currency)} {currency}",
                f"{price(line['per_call'], currency)} {currency}",
                line["rounding_label"],
            ]
        )
    table = Table(rows, repeatRows=1, colWidths=[55 * mm, 28 * mm, 26 * mm, 26 * mm, 35 * mm])
    table.setStyle(TableStyle([*TABLE_STYLE, ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [
        table,
        Spacer(1, 3 * mm),
        _p(
            "Prices exclude taxes. " + contract_tax(terms).sentence() + " Call durations are rounded as "
            "stated per service; these prices are fixed by this version of the contract and are not affected "
            "by later changes of the catalogue.",
            body,
        ),
        _p(BILLING_SENTENCE, body),
        _p(first_invoice_sentence(terms, version.tariffs), body),
        _p(suspension_and_evidence_sentence(terms), body),
        _p(supervision_sentence(terms), body),
        _p(certification_sentence(terms), body),
        _p("3. Coverage and volumes", heading),
        _p(
            f"Coverage: {terms['coverage']} (time zone {terms['time_zone']}). Languages: "
            f"{', '.join(terms['languages']) or 'as agreed'}. Expected volume: {terms['calls_per_month']} "
            f"calls per month, {terms['peak_hour_calls']} in the peak hour. "
            f"Dedicated numbers: {terms['numbers']}.",
            body,
        ),
        _p("4. Service level", heading),
        _p(SERVICE_LEVEL_SENTENCE, body),
        queue_table(queue_terms(terms)),
        Spacer(1, 3 * mm),
        _p(seats_sentence(terms), body),
        _p("5. Term and notice", heading),
        _p(
            f"Service starts on {terms['start_date']} for {terms['term_months']} months "
            f"and renews for the same term unless either party gives {terms['notice_days']} days' "
            "written notice." + (f" Service ends on {terms['end_date']}." if terms.get("end_date") else ""),
            body,
        ),
    ]
    if version.body.strip():
        story += [_p("6. Special conditions", heading), _p(version.body.strip(), body)]
    story += [
        Spacer(1, 8 * mm),
        _p(
            "The client accepts this contract in the client portal; the acceptance records the person, the "
            "time, the network address and the SHA-256 fingerprint of this document.",
            body,
        ),
    ]
    document.build(story)
    return buffer.getvalue()
