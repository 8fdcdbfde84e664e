"""What every invoice of the center carries besides its lines: the seller and buyer with addresses and
tax ids, the bank account, a payment reference, and the due date (one definition for the first
invoice and the monthly ones; ``reporting.invoice_pdf`` and ``tenants.first_invoices`` both use it).
"""

from __future__ import annotations

import datetime
import io
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

from django.conf import settings
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle
from stdnum import iban, iso11649
from stdnum.iso7064 import mod_97_10


@dataclass(frozen=True)
class Party:
    """A seller or a buyer as printed: legal name, address lines, tax id, registration."""

    name: str
    address: str
    tax_id: str = ""
    registration: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "address": self.address,
            "tax_id": self.tax_id,
            "registration": self.registration,
        }

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Party:
        return cls(**{k: str(data.get(k) or "") for k in ("name", "address", "tax_id", "registration")})


@dataclass(frozen=True)
class Bank:
    name: str
    iban: str
    bic: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "iban": self.iban, "bic": self.bic}


def seller() -> Party:
    """The center, from the platform settings (SELLER_*)."""
    return Party(
        name=settings.SELLER_LEGAL_NAME,
        address=settings.SELLER_ADDRESS,
        tax_id=settings.SELLER_TAX_ID,
        registration=settings.SELLER_REGISTRATION,
    )


def bank() -> Bank:
    """The account clients pay into (SELLER_IBAN is checked: a typo would send money astray)."""
    return Bank(
        name=settings.SELLER_BANK_NAME,
        iban=iban.format(iban.validate(settings.SELLER_IBAN)),
        bic=settings.SELLER_BIC,
    )


def buyer(terms: dict[str, object]) -> Party:
    """The client company as its contract version names it (``terms["client"]``)."""
    client = terms.get("client") or {}
    assert isinstance(client, dict)
    tax_id = str(terms.get("client_vat_id") or client.get("tax_number") or "")
    return Party(
        name=str(client.get("legal_name") or ""),
        address=str(client.get("address") or ""),
        tax_id=tax_id,
        registration=str(client.get("registration_number") or ""),
    )


def buyer_of(contract: object) -> Party:
    """The buyer of a contract's invoices: its version in force's client, else its order's company."""
    version = getattr(contract, "in_force", None)
    party = buyer(version.terms) if version is not None else Party(name="", address="")
    order = getattr(contract, "order", None)
    if party.name or order is None:
        return party
    return Party(name=order.legal_name, address=order.address, tax_id=party.tax_id or order.tax_number,
                 registration=order.registration_number)  # fmt: skip


def payment_reference(number: str) -> str:
    """A structured creditor reference (ISO 11649, ``RF…``) for an invoice number, so the bank
    statement line names the invoice unambiguously: ``INV-ACME-2026-03`` → ``RF.. INVACME202603``."""
    body = re.sub(r"[^A-Z0-9]", "", number.upper())[-21:]
    return iso11649.format("RF" + mod_97_10.calc_check_digits(body + "RF") + body)


def due_on(issued: datetime.date) -> datetime.date:
    return issued + datetime.timedelta(days=settings.INVOICE_DUE_DAYS)


def _lines(text: str) -> str:
    return "<br/>".join(escape(line) for line in text.splitlines() if line.strip())


def _party_block(title: str, party: Party) -> str:
    parts = [f"<b>{escape(title)}</b>", f"<b>{escape(party.name)}</b>", _lines(party.address)]
    if party.tax_id:
        parts.append(f"Tax id (VAT): {escape(party.tax_id)}")
    if party.registration:
        parts.append(f"Registration: {escape(party.registration)}")
    return "<br/>".join(p for p in parts if p)


def header_flowables(*, seller: Party, buyer: Party, facts: list[tuple[str, str]]) -> list[object]:
    """Seller and buyer side by side, then the invoice's facts (number, dates, references)."""
    styles = getSampleStyleSheet()
    small = ParagraphStyle("parties", parent=styles["BodyText"], fontSize=9, leading=11)
    parties = Table(
        [
            [
                Paragraph(_party_block("Seller", seller), small),
                Paragraph(_party_block("Bill to", buyer), small),
            ]
        ],
        colWidths=[87 * mm, 87 * mm],
    )
    parties.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    table = Table([[k, v] for k, v in facts], colWidths=[40 * mm, 134 * mm])
    table.setStyle(
        TableStyle([("FONT", (0, 0), (0, -1), "Helvetica-Bold"), ("FONTSIZE", (0, 0), (-1, -1), 9)])
    )
    return [parties, table]


def payment_paragraph(*, total: str, due: datetime.date, reference: str, account: Bank) -> Paragraph:
    styles = getSampleStyleSheet()
    text = (
        f"<b>Please pay {escape(total)} by {due:%Y-%m-%d}</b> to {escape(account.name)}, "
        f"IBAN {escape(account.iban)}, BIC {escape(account.bic)}, quoting the reference "
        f"<b>{escape(reference)}</b>."
    )
    return Paragraph(text, styles["BodyText"])


def invoice_document(buffer: io.BytesIO, *, title: str) -> SimpleDocTemplate:
    """The page every invoice and credit note is laid out on (A4, the same margins, the platform
    as author; ``invariant``: the same document always renders to the same bytes)."""
    return SimpleDocTemplate(
        buffer,
        pagesize=A4,
        invariant=1,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        title=title,
        author=settings.PLATFORM_NAME,
        creator=settings.PLATFORM_NAME,
    )
