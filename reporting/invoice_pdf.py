"""Invoices and credit notes as PDFs (ReportLab); the same document always renders to the same bytes.

Each carries what an invoice must: seller and buyer with addresses and tax ids, its number (the
company's series: ``INV-ACME-FIRST``, ``INV-ACME-2026-03`` …; credit notes ``CN-ACME-2026-03-1``),
issue and due dates in the company's time zone, the bank account and the reference to quote, and
the tax per rate (``tenants.invoice_parties``)."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from django.db import connection
from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

from reporting.billing_models import CreditNote, Invoice
from reporting.stats import local_zone
from tenants import invoice_parties
from tenants.invoice_parties import Party
from tenants.models import Contract
from tenants.money import amount, price, shown


def table_rows(invoice: Invoice) -> list[list[str]]:
    """The invoice table as printed: lines, then net, tax per rate and gross (the rendering input)."""
    cur = invoice.currency
    rows = [["#", "Description", "Quantity", "Unit price", "Amount"]]
    several_rates = invoice.tax_percent is None
    for line in invoice.lines.all():
        tax = f" (tax {line.tax_percent} %)" if several_rates else ""
        rows.append(
            [
                str(line.position),
                line.description + tax,
                f"{line.quantity.normalize():f}",
                f"{price(line.unit_price, cur)} {cur}",
                shown(line.amount, cur),
            ]
        )
    rows.append(["", "Net", "", "", shown(invoice.subtotal, cur)])
    for rate in invoice.tax_rates:
        rows.append(["", rate["label"], "", "", shown(rate["tax"], cur)])
    rows.append(["", "Gross", "", "", shown(invoice.total, cur)])
    return rows


def buyer() -> Party:
    """The client company of the current schema, as its contract names it."""
    contract = (
        Contract.objects.filter(client_id=connection.tenant.pk)
        .select_related("in_force", "order")
        .order_by("-in_force_id")
        .first()
    )
    return invoice_parties.buyer_of(contract) if contract else Party(name=connection.tenant.name, address="")


def render_pdf(*, invoice: Invoice) -> bytes:
    styles = getSampleStyleSheet()
    cell = ParagraphStyle("cell", parent=styles["BodyText"], fontName="Helvetica", fontSize=9, leading=11)
    buffer = io.BytesIO()
    document = invoice_parties.invoice_document(buffer, title=f"Invoice {invoice.number}")
    issued = invoice.issued_at.astimezone(local_zone()).date() if invoice.issued_at else None
    facts = [
        ("Invoice number", invoice.number if issued else f"{invoice.number} (DRAFT, not issued)"),
        ("Issue date", f"{issued:%Y-%m-%d}" if issued else "not issued"),
        ("Due date", f"{invoice_parties.due_on(issued):%Y-%m-%d}" if issued else "—"),
        ("Service period", f"{invoice.period_start:%Y-%m-%d} to {invoice.period_end:%Y-%m-%d}"),
        ("Contract", invoice.contract_reference or "—"),
        ("Payment reference", invoice_parties.payment_reference(invoice.number)),
    ]
    story: list[object] = [
        Paragraph(f"Invoice {escape(invoice.number)}" + ("" if issued else " (draft)"), styles["Title"]),
        *invoice_parties.header_flowables(seller=invoice_parties.seller(), buyer=buyer(), facts=facts),
        Spacer(1, 6 * mm),
    ]
    rows = table_rows(invoice)
    totals = 2 + len(invoice.tax_rates)  # net, each rate, gross
    body = [
        [
            text if column != 1 or index == 0 else Paragraph(escape(text), cell)
            for column, text in enumerate(row)
        ]
        for index, row in enumerate(rows)
    ]
    table = Table(body, repeatRows=1, colWidths=[10 * mm, 80 * mm, 25 * mm, 28 * mm, 30 * mm])
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                ("LINEABOVE", (0, -totals), (-1, -totals), 0.5, colors.black),
                ("FONT", (0, -1), (-1, -1), "Helvetica-Bold"),
                ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story.append(table)
    if issued:
        story += [
            Spacer(1, 4 * mm),
            invoice_parties.payment_paragraph(
                total=shown(invoice.total, invoice.currency),
                due=invoice_parties.due_on(issued),
                reference=invoice_parties.payment_reference(invoice.number),
                account=invoice_parties.bank(),
            ),
        ]
    story += [
        Spacer(1, 4 * mm),
        Paragraph(
            "Amounts are rounded once per line and tax once per rate, half up to the currency's smallest "
            "unit; fees are charged for the days of service in the month; each day is priced by the "
            "contract version in force that day.",
            styles["BodyText"],
        ),
    ]
    document.build(story)
    return buffer.getvalue()


def render_credit_note_pdf(*, note: CreditNote) -> bytes:
    """A credit note as a PDF: the invoice it corrects, the reason, net and tax per rate credited."""
    invoice = note.invoice
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    document = invoice_parties.invoice_document(buffer, title=f"Credit note {note.number}")
    cur = invoice.currency
    created = note.created_at.astimezone(local_zone()).date()
    facts = [
        ("Credit note number", note.number),
        ("Issue date", f"{created:%Y-%m-%d}"),
        ("Corrects invoice", invoice.number),
        (
            "Invoice issued",
            f"{invoice.issued_at.astimezone(local_zone()):%Y-%m-%d}" if invoice.issued_at else "—",
        ),
        ("Contract", invoice.contract_reference or "—"),
    ]
    rows = [["Description", "Amount"], [Paragraph(escape(f"Credit: {note.reason}"), styles["BodyText"]), ""]]
    rows.append(["Net credited", f"-{shown(note.subtotal, cur)}"])
    for rate in note.taxes or []:
        label = (
            "Reverse charge (no tax)"
            if rate.get("reverse_charge")
            else f"Tax {rate['percent']} % on {amount(rate['net'], cur)}"
        )
        rows.append([label, f"-{shown(rate['tax'], cur)}"])
    rows.append(["Total credited", f"-{shown(note.total, cur)}"])
    table = Table(rows, colWidths=[130 * mm, 44 * mm])
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                ("FONT", (0, -1), (-1, -1), "Helvetica-Bold"),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story: list[object] = [
        Paragraph(f"Credit note {escape(note.number)}", styles["Title"]),
        *invoice_parties.header_flowables(seller=invoice_parties.seller(), buyer=buyer(), facts=facts),
        Spacer(1, 6 * mm),
        table,
        Spacer(1, 4 * mm),
        Paragraph(
            f"This credit note reduces invoice {escape(invoice.number)} by {shown(note.total, cur)}; "
            "the amount is "
            "set against what is due, or paid back to the account the client paid from.",
            styles["BodyText"],
        ),
    ]
    document.build(story)
    return buffer.getvalue()
