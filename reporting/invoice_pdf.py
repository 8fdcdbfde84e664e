"""An invoice as a PDF (ReportLab); the same invoice always renders to the same bytes."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from django.conf import settings
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from reporting.billing_models import Invoice


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
                f"{line.unit_price} {cur}",
                f"{line.amount} {cur}",
            ]
        )
    rows.append(["", "Net", "", "", f"{invoice.subtotal} {cur}"])
    for rate in invoice.tax_rates:
        rows.append(["", rate["label"], "", "", f"{rate['tax']} {cur}"])
    rows.append(["", "Gross", "", "", f"{invoice.total} {cur}"])
    return rows


def render_pdf(*, invoice: Invoice) -> bytes:
    styles = getSampleStyleSheet()
    cell = ParagraphStyle("cell", parent=styles["BodyText"], fontName="Helvetica", fontSize=9, leading=11)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        invariant=1,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        title=f"Invoice {invoice.number}",
        author=settings.PLATFORM_NAME,
        creator=settings.PLATFORM_NAME,
    )
    story: list[object] = [
        Paragraph(f"Invoice {escape(invoice.number)}", styles["Title"]),
        Paragraph(
            f"Period {invoice.period_start:%Y-%m-%d} to {invoice.period_end:%Y-%m-%d}; "
            f"contract {escape(invoice.contract_reference)}; "
            + (f"issued {invoice.issued_at:%Y-%m-%d}" if invoice.issued_at else "draft"),
            styles["BodyText"],
        ),
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
