"""A monthly invoice in yen shows no cents anywhere it is read: portal and back office pages, the
PDF, the CSV and XLSX exports, the REST API, the issued webhook and the line evidence (each amount
in the currency's smallest unit, ``tenants.money``)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context
from openpyxl import load_workbook

from accounts.models import Role
from reporting import invoicing
from reporting.api.serializers import InvoiceSerializer
from reporting.keys import api_key_create
from reporting.line_evidence import line_summary
from reporting.webhooks import invoice_issued_data
from telephony.calls.models import Call
from tests.conftest import http, logged_in, make_user
from tests.factories import CallFactory
from tests.reporting.factories import contract_in_force, tariff
from tests.reporting.test_invoice_documents import pdf_text

MARCH = dt.date(2026, 3, 1)
T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def yen_invoice(db, tenants):
    """1000 JPY a month and 2.5 JPY a minute at 10 %: 90 s is 3.75 JPY, billed 4; net 1004, tax 100
    (100.4), gross 1104; then a credit of 100 JPY net (110 gross)."""
    client = tenants.alpha
    contract_in_force(
        client, tariffs=[tariff("inbound", "Inbound hotline", fee="1000", minute="2.5000", cur="JPY")],
        tax_percent="10",
    )  # fmt: skip
    with tenant_context(client):
        CallFactory(started_at=T0, queued_at=T0, answered_at=T0, wait_seconds=0, talk_seconds=90,
                    outcome=Call.Outcome.HANDLED)  # fmt: skip
    manager = make_user(None, role=Role.ACCOUNT_MANAGER, first_name="Ann", last_name="Manager")
    draft = invoicing.do_build_draft(client=client, month=MARCH, actor=manager)
    invoice = invoicing.do_issue(client=client, invoice_id=draft.pk, actor=manager)
    invoicing.do_credit(client=client, invoice_id=draft.pk, subtotal=Decimal("100"), reason="Outage",
                        actor=manager)  # fmt: skip
    return client, invoice, manager


def no_cents(text: str) -> None:
    assert ".00 JPY" not in text and ".40 JPY" not in text and ".75" not in text, text
    assert ".00<" not in text and ".00 " not in text.replace(".00 %", ""), text


def test_a_yen_invoice_has_no_cents_on_its_pages_and_pdfs(yen_invoice):
    client, invoice, manager = yen_invoice
    portal = logged_in(client, make_user(client, role=Role.CLIENT_VIEWER))
    listed = portal.get("/reports/invoices/").content.decode()
    assert "1104 JPY" in listed and "110 JPY" in listed
    no_cents(listed)
    detail = portal.get(f"/reports/invoices/{invoice.pk}/").content.decode()
    expected_on_page = (">1004<", ">100<", "<strong>1104</strong>", ">4<", ">2.5<", "994 JPY",
                        "Tax 10.00 % on 1004")  # fmt: skip
    for expected in expected_on_page:
        assert expected in detail, expected
    no_cents(detail)
    line = portal.get(f"/reports/invoices/{invoice.pk}/lines/2/").content.decode()
    assert "4 JPY" in line and "4.00" not in line
    office = logged_in(None, manager)
    base = f"/backoffice/reports/invoices/{client.pk}"
    for url in (f"{base}/", f"{base}/{invoice.pk}/"):
        page = office.get(url).content.decode()
        assert "1104 JPY" in page
        no_cents(page)
    text = pdf_text(bytes(invoice.pdf))
    printed = ("1000 JPY", "2.5 JPY", "4 JPY", "Net 1004 JPY", "Tax 10.00 % on 1004 100 JPY",
               "Gross 1104 JPY")  # fmt: skip
    for expected in printed:
        assert expected in text, expected
    no_cents(text)
    with tenant_context(client):
        note = invoice.credit_notes.get()
    note_text = pdf_text(portal.get(f"/reports/invoices/{invoice.pk}/credit-notes/{note.pk}/pdf/").content)
    for expected in ("Net credited -100 JPY", "Total credited -110 JPY"):
        assert expected in note_text, expected
    no_cents(note_text)


def test_a_yen_invoice_has_no_cents_in_its_exports_api_webhook_and_evidence(yen_invoice):
    client, invoice, _ = yen_invoice
    portal = logged_in(client, make_user(client, role=Role.CLIENT_VIEWER))
    response = portal.get("/reports/invoices/export.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    money_columns = ("subtotal", "tax", "total", "credited")
    assert [[r[k] for k in money_columns] for r in rows] == [["1004", "100", "1104", "110"]]
    xlsx = b"".join(portal.get("/reports/invoices/export.xlsx").streaming_content)
    sheet = load_workbook(io.BytesIO(xlsx)).active
    header, row = [c.value for c in sheet[1]], [c.value for c in sheet[2]]
    values = dict(zip(header, row, strict=True))
    assert [str(values[k]) for k in money_columns] == ["1004", "100", "1104", "110"]
    with tenant_context(client):
        _, key = api_key_create(name="erp", scopes=["read_reports"])
    body = http(client).get("/api/v1/invoices/", HTTP_AUTHORIZATION=f"Bearer {key}").json()["results"][0]
    assert (body["subtotal"], body["tax"], body["total"]) == ("1004", "100", "1104")
    assert [(t["net"], t["tax"]) for t in body["taxes"]] == [("1004", "100")]
    lines = [(line["unit_price"], line["amount"]) for line in body["lines"]]
    assert lines == [("1000", "1000"), ("2.5", "4")]
    with tenant_context(client):
        data = invoice_issued_data(invoice.pk)
        assert (data["subtotal"], data["tax"], data["total"]) == ("1004", "100", "1104")
        assert [(t["net"], t["tax"]) for t in data["taxes"]] == [("1004", "100")]
        line = invoice.lines.get(position=2)
        summary = line_summary(line)
    assert (summary["unit_price"], summary["amount"]) == (Decimal("2.5"), Decimal("4"))
    assert (str(summary["unit_price"]), str(summary["amount"])) == ("2.5", "4")


def test_euro_amounts_keep_their_two_decimals_in_the_api(db, tenants):
    """The same serialiser keeps cents for a currency that has them (exact strings, not floats)."""
    contract_in_force(tenants.alpha, tariffs=[tariff("inbound", "Inbound", fee="100.00", minute="0.0150")])
    manager = make_user(None, role=Role.ACCOUNT_MANAGER)
    draft = invoicing.do_build_draft(client=tenants.alpha, month=MARCH, actor=manager)
    with tenant_context(tenants.alpha):
        data = InvoiceSerializer(draft).data
    assert (data["subtotal"], data["total"]) == ("100.00", "100.00")
    assert [line["unit_price"] for line in data["lines"]] == ["100.00", "0.015"]
