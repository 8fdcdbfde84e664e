"""The first invoice: issued when the client accepts its contract, for the first month's fees in
advance and the deposit the contract asks for. Its PDF carries seller, buyer, dates, the bank
account and the payment reference (``tenants.invoice_parties``) and is kept as issued.
"""

from __future__ import annotations

import hashlib
import io
from decimal import Decimal
from xml.sax.saxutils import escape

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

from tenants import invoice_parties
from tenants.contracts import contract_tax
from tenants.invoice_parties import Bank, Party
from tenants.models import Client, Contract, ContractVersion, FirstInvoice
from tenants.money import contract_currency, invoice_problem, money, shown, tax_breakdown


class FirstInvoiceError(Exception):
    """The contract cannot be invoiced as it stands (e.g. prices in two currencies)."""


def deposit_of(terms: dict[str, object], currency: str) -> Decimal:
    return money(Decimal(str(terms.get("deposit") or "0")), currency)


def first_invoice_number(client: Client) -> str:
    """The first invoice opens the client's series: ``INV-ACME-FIRST``, then ``INV-ACME-2026-03`` …"""
    return f"INV-{client.slug.upper()}-FIRST"


def invoice_currency(tariffs: list[dict[str, str]]) -> str:
    """The one currency of a contract's prices (``tenants.money.contract_currency``);
    ``FirstInvoiceError`` when they cannot be invoiced: two currencies, or one of three decimals
    (``tenants.money.invoice_problem``).
    Checked when the contract is saved and sent, not first when the client accepts it."""
    currencies = {t["currency"] for t in tariffs}
    if len(currencies) > 1:
        raise FirstInvoiceError(f"One currency per invoice; the contract has {sorted(currencies)}.")
    currency = contract_currency(tariffs)
    if invoice_problem(currency):
        raise FirstInvoiceError(invoice_problem(currency))
    return currency


def lines_for(version: ContractVersion) -> tuple[str, list[dict[str, str]], list[dict[str, object]]]:
    """(currency, lines, taxes): each monthly fee in advance at the contract's tax, the deposit untaxed."""
    currency = invoice_currency(version.tariffs)
    tax = contract_tax(version.terms)
    lines: list[dict[str, str]] = []
    for tariff in version.tariffs:
        fee = money(Decimal(tariff["monthly_fee"]), currency)
        if fee:
            lines.append(
                {
                    "description": f"{tariff['service']}: first month's fee, in advance",
                    "quantity": "1",
                    "unit_price": str(fee),
                    "amount": str(fee),
                    "tax_percent": str(tax.rate),
                }
            )
    fees = money(sum((Decimal(line["amount"]) for line in lines), Decimal(0)), currency)
    taxes = tax_breakdown({tax: fees}, currency) if fees else []
    deposit = deposit_of(version.terms, currency)
    if deposit:
        lines.append(
            {
                "description": "Deposit (held for the term, not taxed)",
                "quantity": "1",
                "unit_price": str(deposit),
                "amount": str(deposit),
                "tax_percent": "0.00",
            }
        )
    return currency, lines, taxes


def first_invoice_issue(*, contract: Contract, version: ContractVersion) -> FirstInvoice | None:
    """Issue the first invoice of ``contract`` from the accepted ``version`` (in the caller's
    transaction); an invoice already issued is returned as it is."""
    existing = FirstInvoice.objects.filter(contract=contract).first()
    if existing is not None:
        return existing
    client = contract.client
    currency, lines, taxes = lines_for(version)
    subtotal = money(sum((Decimal(line["amount"]) for line in lines), Decimal(0)), currency)
    tax = money(sum((Decimal(str(t["tax"])) for t in taxes), Decimal(0)), currency)
    issued = timezone.localdate()
    number = first_invoice_number(client)
    invoice = FirstInvoice(
        contract=contract,
        client=client,
        number=number,
        version_number=version.number,
        issued_on=issued,
        due_on=invoice_parties.due_on(issued),
        currency=currency,
        lines=lines,
        taxes=taxes,
        subtotal=subtotal,
        tax=tax,
        total=subtotal + tax,
        seller=invoice_parties.seller().as_dict(),
        buyer=invoice_parties.buyer(version.terms).as_dict(),
        bank=invoice_parties.bank().as_dict(),
        payment_reference=invoice_parties.payment_reference(number),
    )
    invoice.pdf = render_pdf(invoice=invoice, contract_reference=contract.reference)
    invoice.pdf_sha256 = hashlib.sha256(invoice.pdf).hexdigest()
    invoice.save()
    return invoice


def render_pdf(*, invoice: FirstInvoice, contract_reference: str) -> bytes:
    """The first invoice as a PDF; the same invoice always renders to the same bytes."""
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    document = invoice_parties.invoice_document(buffer, title=f"Invoice {invoice.number}")
    cur = invoice.currency

    def amount(value: object) -> str:
        return shown(value, cur)

    facts = [
        ("Invoice number", invoice.number),
        ("Issue date", f"{invoice.issued_on:%Y-%m-%d}"),
        ("Due date", f"{invoice.due_on:%Y-%m-%d}"),
        ("Contract", f"{contract_reference}, version {invoice.version_number}"),
        ("Payment reference", invoice.payment_reference),
    ]
    story: list[object] = [
        Paragraph(f"Invoice {escape(invoice.number)}", styles["Title"]),
        *invoice_parties.header_flowables(
            seller=Party.from_dict(invoice.seller), buyer=Party.from_dict(invoice.buyer), facts=facts
        ),
        Spacer(1, 5 * mm),
    ]
    rows = [["#", "Description", "Quantity", "Unit price", "Tax %", "Amount"]]
    for index, line in enumerate(invoice.lines, start=1):
        rows.append(
            [
                str(index),
                Paragraph(escape(line["description"]), styles["BodyText"]),
                line["quantity"],
                amount(line["unit_price"]),
                line["tax_percent"],
                amount(line["amount"]),
            ]
        )
    rows.append(["", "Net", "", "", "", amount(invoice.subtotal)])
    for rate in invoice.taxes:
        label = (
            f"Reverse charge: VAT to be accounted for by the client, VAT id {rate['client_vat_id']}"
            if rate["reverse_charge"]
            else f"Tax {rate['percent']} % on {amount(rate['net'])}"
        )
        rows.append(["", Paragraph(escape(label), styles["BodyText"]), "", "", "", amount(rate["tax"])])
    rows.append(["", "Total due", "", "", "", amount(invoice.total)])
    table = Table(rows, repeatRows=1, colWidths=[8 * mm, 74 * mm, 18 * mm, 26 * mm, 14 * mm, 34 * mm])
    totals = 2 + len(invoice.taxes)
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
    story += [
        table,
        Spacer(1, 5 * mm),
        invoice_parties.payment_paragraph(
            total=amount(invoice.total),
            due=invoice.due_on,
            reference=invoice.payment_reference,
            account=Bank(**invoice.bank),
        ),
        Paragraph(
            "Your service starts once this invoice is paid in full. The deposit is held for the term of "
            "the contract and set against the last invoice.",
            styles["BodyText"],
        ),
    ]
    document.build(story)
    return buffer.getvalue()
