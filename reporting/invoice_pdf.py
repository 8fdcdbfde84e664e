"""An invoice as a PDF (ReportLab); the same invoice always renders to the same bytes."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from django.conf import settings
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from reporting.billing_models import Invoice


def render_pdf(*, invoice: Invoice) -> bytes:
    styles = getSampleStyleSheet()
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
    cur = invoice.currency
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
    rows = [["#", "Description", "Quantity", "Unit price", "Amount"]]
    for line in invoice.lines.all():
        rows.append(
            [
                str(line.position),
                line.description,
                f"{line.quantity.normalize():f}",
                f"{line.unit_price} {cur}",
                f"{line.amount} {cur}",
            ]
        )
    rows += [
        ["", "Subtotal", "", "", f"{invoice.subtotal} {cur}"],
        ["", f"Tax {invoice.tax_percent} %", "", "", f"{invoice.tax} {cur}"],
        ["", "Total", "", "", f"{invoice.total} {cur}"],
    ]
    table = Table(rows, repeatRows=1, colWidths=[10 * mm, 80 * mm, 25 * mm, 28 * mm, 30 * mm])
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                ("LINEABOVE", (0, -3), (-1, -3), 0.5, colors.black),
                ("FONT", (0, -1), (-1, -1), "Helvetica-Bold"),
                ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
            ]
        )
    )
    story.append(table)
    document.build(story)
    return buffer.getvalue()
