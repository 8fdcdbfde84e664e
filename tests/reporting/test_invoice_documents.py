"""Invoices fit to send: seller and buyer with addresses and tax ids, number, issue and due dates,
bank details and reference, tax lines; credit notes as PDFs; a month is issued only once it ended."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tenants.utils import tenant_context
from pypdf import PdfReader

from accounts.models import Role
from reporting import invoicing
from reporting.billing_models import Invoice
from telephony.calls.models import TelephonySettings
from tenants import payments
from tenants.invoice_parties import payment_reference
from tenants.models import AuditEvent
from tests.conftest import logged_in, make_user
from tests.reporting.factories import contract_in_force, tariff

MARCH = dt.date(2026, 3, 1)


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


@pytest.fixture
def alpha_contract(db, tenants):
    contract_in_force(
        tenants.alpha, tariffs=[tariff("inbound", "Inbound hotline", fee="100.00")], tax_percent="20",
        client_vat_id="GB123456789",
    )  # fmt: skip
    return tenants.alpha


@pytest.fixture
def manager(db):
    return make_user(None, role=Role.ACCOUNT_MANAGER, first_name="Ann", last_name="Manager")


def test_an_issued_invoice_pdf_names_seller_buyer_dates_bank_reference_and_tax(alpha_contract, manager):
    client = alpha_contract
    draft = invoicing.do_build_draft(client=client, month=MARCH, actor=manager)
    invoice = invoicing.do_issue(client=client, invoice_id=draft.pk, actor=manager)
    issued = invoice.issued_at.date()
    text = pdf_text(bytes(invoice.pdf))
    for expected in (
        "Seller", "Callcenter Contact Center Ltd", "1 Platform Street", "Tax id (VAT): DE000000000",
        "Bill to", "Alpha Ltd", "1 Main St", "Tax id (VAT): GB123456789",
        f"Invoice number {invoice.number}", f"Issue date {issued:%Y-%m-%d}",
        f"Due date {issued + dt.timedelta(days=14):%Y-%m-%d}", "Service period 2026-03-01 to 2026-03-31",
        f"Payment reference {payment_reference(invoice.number)}", "IBAN DE89 3704 0044 0532 0130 00",
        "BIC COBADEFFXXX", "Tax 20", "120.00 EUR",
    ):  # fmt: skip
        assert expected in text, expected


def test_a_month_is_issued_only_after_it_has_ended_in_the_company_s_time_zone(alpha_contract, manager):
    client = alpha_contract
    with tenant_context(client):
        TelephonySettings.objects.update_or_create(defaults={"timezone": "Pacific/Auckland"})
    draft = invoicing.do_build_draft(client=client, month=MARCH, actor=manager)
    auckland = zoneinfo.ZoneInfo("Pacific/Auckland")
    last_evening = dt.datetime(2026, 3, 31, 23, 30, tzinfo=auckland)
    with pytest.raises(ValidationError, match="March 2026 has not ended yet"):
        invoicing.do_issue(client=client, invoice_id=draft.pk, actor=manager, now=last_evening)
    with tenant_context(client):
        assert Invoice.objects.get(pk=draft.pk).state == "draft"
    # Past midnight in Auckland it has ended, though it is still 31 March in UTC.
    just_after = dt.datetime(2026, 4, 1, 0, 5, tzinfo=auckland)
    assert just_after.astimezone(dt.UTC).date() == dt.date(2026, 3, 31)
    invoice = invoicing.do_issue(client=client, invoice_id=draft.pk, actor=manager, now=just_after)
    assert invoice.state == "issued"


def test_the_current_month_cannot_be_issued_from_the_back_office(alpha_contract, manager):
    client = alpha_contract
    office = logged_in(None, manager)
    base = f"/backoffice/reports/invoices/{client.pk}"
    this_month = timezone.localdate().replace(day=1)
    office.post(f"{base}/build/", {"month": f"{this_month:%Y-%m}"})
    with tenant_context(client):
        draft = Invoice.objects.get(period_start=this_month)
    response = office.post(f"{base}/{draft.pk}/issue/")
    assert response.status_code == 400 and "has not ended yet" in response.content.decode()


def test_credit_notes_have_a_pdf_for_the_company_and_the_back_office_only(alpha_contract, manager, tenants):
    client = alpha_contract
    draft = invoicing.do_build_draft(client=client, month=MARCH, actor=manager)
    invoicing.do_issue(client=client, invoice_id=draft.pk, actor=manager)
    note = invoicing.do_credit(client=client, invoice_id=draft.pk, subtotal=Decimal("10.00"),
                               reason="Outage on 3 March", actor=manager)  # fmt: skip
    portal = logged_in(client, make_user(client, role=Role.CLIENT_VIEWER))
    url = f"/reports/invoices/{draft.pk}/credit-notes/{note.pk}/pdf/"
    page = portal.get(f"/reports/invoices/{draft.pk}/").content.decode()
    assert f'href="{url}"' in page
    # The page says what to pay, by when, where and with which reference (120.00 less the 12.00 credited).
    for expected in ("108.00 EUR", "DE89 3704 0044 0532 0130 00", payment_reference(draft.number)):
        assert expected in page, expected
    response = portal.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    for expected in (
        f"Credit note number {note.number}", f"Corrects invoice {draft.number}", "Outage on 3 March",
        "Net credited -10.00 EUR", "Total credited -12.00 EUR", "Bill to", "Alpha Ltd",
        "Tax id (VAT): DE000000000",
    ):  # fmt: skip
        assert expected in text, expected
    # Another company: its own host never serves this note (404), whatever the numbers.
    beta = logged_in(tenants.beta, make_user(tenants.beta, role=Role.CLIENT_ADMIN))
    assert beta.get(url).status_code == 404
    office = logged_in(None, manager)
    base = f"/backoffice/reports/invoices/{client.pk}/{draft.pk}"
    assert office.get(f"{base}/credit-notes/{note.pk}/pdf/").content.startswith(b"%PDF")
    other = f"/backoffice/reports/invoices/{tenants.beta.pk}/{draft.pk}/credit-notes/{note.pk}/pdf/"
    assert office.get(other).status_code == 404


def test_payments_against_a_monthly_invoice_check_currency_and_leave_a_balance_until_covered(
    alpha_contract, manager
):
    client = alpha_contract
    draft = invoicing.do_build_draft(client=client, month=MARCH, actor=manager)
    invoice = invoicing.do_issue(client=client, invoice_id=draft.pk, actor=manager)
    assert invoice.total == Decimal("120.00")
    paid_on = invoice.issued_at.date()
    pay = {"client": client, "invoice_id": invoice.pk, "paid_on": paid_on, "actor": manager}
    with pytest.raises(ValidationError, match="is in EUR"):
        invoicing.do_mark_paid(**pay, reference="B-0", amount=Decimal("120.00"), currency="USD")
    invoicing.do_mark_paid(**pay, reference="B-1", amount=Decimal("100.00"), currency="EUR")
    with tenant_context(client):
        assert Invoice.objects.get(pk=invoice.pk).state == "issued"  # 20.00 still due
    event = AuditEvent.objects.get(client=client, action="invoice.payment")
    assert (event.after["balance_due"], event.after["paid"]) == ("20.00", "100.00")
    office = logged_in(None, manager)
    page = office.get(f"/backoffice/reports/invoices/{client.pk}/{invoice.pk}/").content.decode()
    assert 'value="20.00"' in page  # the form offers the balance
    invoicing.do_mark_paid(**pay, reference="B-2", amount=Decimal("25.00"), currency="eur")
    with tenant_context(client):
        assert Invoice.objects.get(pk=invoice.pk).state == "paid"
    paid = AuditEvent.objects.get(client=client, action="invoice.paid")
    assert (paid.after["credit"], paid.after["balance_due"]) == ("5.00", "0.00")  # over-paid: held as credit
    with pytest.raises(ValidationError, match="Only an issued invoice"):
        invoicing.do_mark_paid(**pay, reference="B-3", amount=Decimal("1.00"), currency="EUR")


def test_an_over_payment_pays_the_next_invoice_first_and_is_used_once(alpha_contract, manager, tenants):
    """Before: the 5.00 over-paid on March was "held as credit" but April still asked for all 120.00."""
    client = alpha_contract
    march = invoicing.do_issue(
        client=client, invoice_id=invoicing.do_build_draft(client=client, month=MARCH, actor=manager).pk,
        actor=manager,
    )  # fmt: skip
    invoicing.do_mark_paid(client=client, invoice_id=march.pk, paid_on=march.issued_at.date(), actor=manager,
                           reference="M-1", amount=Decimal("125.00"), currency="EUR")  # fmt: skip
    assert invoicing.client_credit(client) == {"EUR": Decimal("5.00")}
    april_draft = invoicing.do_build_draft(client=client, month=dt.date(2026, 4, 1), actor=manager)
    april = invoicing.do_issue(client=client, invoice_id=april_draft.pk, actor=manager)
    assert april.state == "issued"
    assert payments.payments_of(invoice_number=april.number) == Decimal("5.00")
    applied = AuditEvent.objects.get(client=client, action="invoice.credit_applied")
    assert (applied.after["amount"], applied.after["balance_due"]) == ("5.00", "115.00")
    assert invoicing.client_credit(client) == {}  # used once, not again on May
    may_draft = invoicing.do_build_draft(client=client, month=dt.date(2026, 5, 1), actor=manager)
    may = invoicing.do_issue(client=client, invoice_id=may_draft.pk, actor=manager)
    assert payments.payments_of(invoice_number=may.number) == Decimal("0.00")
    # The client sees the smaller balance on its invoice page; another company has no credit.
    portal = logged_in(client, make_user(client, role=Role.CLIENT_ADMIN))
    assert "115.00" in portal.get(f"/reports/invoices/{april.pk}/").content.decode()
    assert invoicing.client_credit(tenants.beta) == {}


def test_a_credit_larger_than_the_invoice_pays_it_and_the_rest_stays(alpha_contract, manager):
    client = alpha_contract
    march = invoicing.do_issue(
        client=client, invoice_id=invoicing.do_build_draft(client=client, month=MARCH, actor=manager).pk,
        actor=manager,
    )  # fmt: skip
    invoicing.do_mark_paid(client=client, invoice_id=march.pk, paid_on=march.issued_at.date(), actor=manager,
                           reference="M-1", amount=Decimal("300.00"), currency="EUR")  # fmt: skip
    april_draft = invoicing.do_build_draft(client=client, month=dt.date(2026, 4, 1), actor=manager)
    april = invoicing.do_issue(client=client, invoice_id=april_draft.pk, actor=manager)
    assert april.state == "paid" and april.payment_reference == "credit"
    assert invoicing.client_credit(client) == {"EUR": Decimal("60.00")}  # 180.00 over, 120.00 used
