"""Go-live by the book: the first invoice, payments against it (amount and currency checked), the
go-live when it is paid in full or on an account manager's override with a reason."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import Role
from reporting import invoicing
from tenants import contracting, onboarding, payments
from tenants.models import AuditEvent, Client, ContractVersion, FirstInvoice
from tenants.money import shown
from tests.conftest import http, logged_in, make_user
from tests.onboarding.helpers import accept, add_numbers, contact, manager, pay, submit_order
from tests.onboarding.test_contract_tax import form_data


def pdf_text(data: bytes) -> str:
    """The PDF's text, whitespace folded (a table cell and its neighbour read as one line)."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def accepted_contract(*, deposit: str = "0.00"):
    by = manager()
    contract = contracting.contract_draft(order=submit_order(), by=by)
    if deposit != "0.00":
        contracting.contract_revise(contract=contract, by=by, terms={"deposit": deposit}, body="")
    contracting.contract_send(contract=contract, by=by)
    contract.refresh_from_db()
    accept(contract)
    contract.refresh_from_db()
    return contract, contract.client, by


def _status(client: Client) -> str:
    client.refresh_from_db()
    return client.status


def test_acceptance_issues_the_first_invoice_with_fees_deposit_tax_due_date_bank_and_reference(db, tenants):
    add_numbers(2)
    contract, client, _ = accepted_contract(deposit="300.00")
    invoice = FirstInvoice.objects.get(contract=contract)
    # inbound 490 + recording 60 at 19 %, the deposit untaxed
    assert invoice.subtotal == Decimal("850.00")
    assert invoice.tax == Decimal("104.50")
    assert invoice.total == Decimal("954.50")
    assert invoice.currency == "EUR"
    assert invoice.due_on == invoice.issued_on + datetime.timedelta(days=14)
    assert invoice.payment_reference.startswith("RF")
    text = pdf_text(bytes(invoice.pdf))
    for expected in (
        invoice.number, "Seller", "DE000000000", "Bill to", f"Company {client.slug} Ltd", "1 Main Street",
        "Tax id (VAT): T-1", "Deposit", "Tax 19.00 % on 550.00 EUR", "954.50 EUR",
        f"Due date {invoice.due_on:%Y-%m-%d}", "DE89 3704 0044 0532 0130 00", invoice.payment_reference,
    ):  # fmt: skip
        assert expected in text, expected
    assert _status(client) == Client.Status.PROSPECT


def test_a_partial_payment_leaves_a_balance_due_and_does_not_start_the_service(db, tenants):
    """The issue's case: 100 EUR against the first invoice provisioned the company at once."""
    add_numbers(2)
    contract, client, by = accepted_contract()
    pay(contract, by, amount="100.00")
    invoice = FirstInvoice.objects.get(contract=contract)
    assert invoice.paid == Decimal("100.00")
    assert invoice.balance_due == invoice.total - Decimal("100.00")
    assert invoice.status == "partly paid"
    assert _status(client) == Client.Status.PROSPECT
    pay(contract, by)  # the balance
    assert _status(client) == Client.Status.ACTIVE
    events = AuditEvent.objects.filter(client=client, action="invoice.payment").order_by("id")
    assert [e.after["balance_due"] for e in events] == [str(invoice.total - Decimal("100.00")), "0.00"]


def test_a_payment_in_another_currency_is_refused_and_nothing_is_written(db, tenants):
    contract, client, by = accepted_contract()
    invoice = FirstInvoice.objects.get(contract=contract)
    with pytest.raises(onboarding.OnboardingError, match="is in EUR"):
        payments.payment_record(contract=contract, by=by, amount=invoice.total, currency="usd",
                                paid_on=timezone.localdate(), reference="X-1")  # fmt: skip
    assert not contract.payments.exists()
    assert _status(client) == Client.Status.PROSPECT


def test_an_over_payment_is_held_as_credit_and_the_service_starts(db, tenants):
    add_numbers(2)
    contract, client, by = accepted_contract()
    invoice = FirstInvoice.objects.get(contract=contract)
    pay(contract, by, amount=invoice.total + Decimal("100.00"))
    assert invoice.credit == Decimal("100.00")
    assert invoicing.client_credit(client) == {"EUR": Decimal("100.00")}  # the next invoice's first payment
    assert _status(client) == Client.Status.ACTIVE
    with pytest.raises(onboarding.OnboardingError):  # nothing is due any more: no double go-live
        payments.go_live_override(contract=contract, by=by, reason="The client asked for it kindly")


def test_no_payment_before_the_first_invoice_and_none_dated_in_the_future(db, tenants):
    by = manager()
    contract = contracting.contract_draft(order=submit_order(), by=by)
    contracting.contract_send(contract=contract, by=by)
    with pytest.raises(onboarding.OnboardingError, match="first invoice is issued when"):
        pay(contract, by, amount="10.00")
    accept(contract)
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    with pytest.raises(onboarding.OnboardingError, match="future"):
        payments.payment_record(
            contract=contract, by=by, amount="10.00", currency="EUR", paid_on=tomorrow, reference="F-1"
        )


def test_the_account_manager_may_start_the_service_before_payment_with_a_reason_that_is_logged(db, tenants):
    add_numbers(2)
    contract, client, by = accepted_contract()
    with pytest.raises(onboarding.OnboardingError, match="Say why"):
        payments.go_live_override(contract=contract, by=by, reason="  ")
    assert _status(client) == Client.Status.PROSPECT
    payments.go_live_override(contract=contract, by=by, reason="Public sector client, pays on 30 days")
    assert _status(client) == Client.Status.ACTIVE
    event = AuditEvent.objects.get(client=client, action="client.go_live_override")
    assert event.after["reason"] == "Public sector client, pays on 30 days"
    assert event.actor_name == "Mia Manager"


def test_the_portal_shows_the_first_invoice_and_its_pdf_to_its_own_company_only(db, tenants):
    contract, client, _ = accepted_contract()
    invoice = FirstInvoice.objects.get(contract=contract)
    portal = logged_in(client, contact(client))
    page = portal.get("/contract/").content.decode()
    for expected in (f"{invoice.total} EUR", invoice.payment_reference, "DE89 3704 0044 0532 0130 00",
                     f"{invoice.due_on:%Y-%m-%d}", "Awaiting payment"):  # fmt: skip
        assert expected in page, expected
    assert invoice.payment_reference in portal.get("/").content.decode()
    response = portal.get("/contract/first-invoice.pdf")
    assert response.status_code == 200 and response.content == bytes(invoice.pdf)
    # Another company's admin, on its own host, gets its own (none), never this one.
    other = logged_in(tenants.beta, make_user(tenants.beta, role=Role.CLIENT_ADMIN))
    assert other.get("/contract/first-invoice.pdf").status_code == 404
    assert invoice.number not in other.get("/contract/").content.decode()
    # Nobody logged in: the login page.
    assert http(client).get("/contract/first-invoice.pdf").status_code == 302


def test_the_back_office_records_a_partial_payment_with_a_warning_and_offers_the_balance(db, tenants):
    add_numbers(2)
    contract, client, by = accepted_contract()
    invoice = FirstInvoice.objects.get(contract=contract)
    office = logged_in(None, by)
    url = f"/staff/contracts/{contract.pk}/"
    response = office.post(url + "payment/", {"amount": "100.00", "currency": "EUR",
                                             "paid_on": timezone.localdate().isoformat(), "reference": "P-1"},
                           follow=True)  # fmt: skip
    page = response.content.decode()
    assert f"{invoice.total - 100} EUR still due" in page
    assert f'value="{invoice.total - 100}"' in page  # the form offers the balance
    assert _status(client) == Client.Status.PROSPECT
    response = office.post(url + "go-live/", {"reason": "short"}, follow=True)
    assert "Not started" in response.content.decode()
    assert office.get(url + "first-invoice.pdf").content == bytes(invoice.pdf)


def test_the_first_invoice_is_in_the_portals_invoice_list_of_its_own_company_only(db, tenants):
    """Before: /reports/invoices/ said "No invoices yet" to a client who had been sent one."""
    add_numbers(2)
    contract, client, by = accepted_contract()
    invoice = FirstInvoice.objects.get(contract=contract)
    portal = logged_in(client, contact(client))
    page = portal.get("/reports/invoices/").content.decode()
    assert invoice.number in page and f"{invoice.total} EUR" in page and "Awaiting payment" in page
    assert "No invoices yet" not in page and "/contract/first-invoice.pdf" in page
    pay(contract, by, amount=invoice.total + Decimal("5.00"))
    page = portal.get("/reports/invoices/").content.decode()
    assert "Paid" in page and "over-paid by 5.00 EUR" in page
    other = logged_in(tenants.beta, make_user(tenants.beta, role=Role.CLIENT_ADMIN))
    assert invoice.number not in other.get("/reports/invoices/").content.decode()


def _first_invoice_part(response) -> str:
    page = response.content.decode()
    start = page.index('id="first-invoice"')
    return page[start : page.index("</section>", start)]


def yen_contract():
    """A contract in yen, accepted: fees of 4999 and 600 JPY at 19 %, a deposit of 30000 JPY."""
    by = manager()
    contract = contracting.contract_draft(order=submit_order(), by=by)
    version = contracting.contract_revise(contract=contract, by=by, terms={"deposit": "30000"}, body="")
    fees = {"inbound": "4999.00", "recording": "600.00"}
    yen = [
        {**t, "currency": "JPY", "monthly_fee": fees.get(t["service_code"], "0.00")} for t in version.tariffs
    ]
    ContractVersion.objects.filter(pk=version.pk).update(tariffs=yen)
    contracting.contract_send(contract=contract, by=by)
    accept(contract)
    return contract, by


def test_a_yen_first_invoice_is_in_whole_yen_on_every_page_and_its_pdf(db, tenants):
    """Before: the first invoice rounded every currency to cents (tax 1063.81 JPY) where the monthly
    invoices round to the currency's smallest unit; and its amounts printed with two decimals."""
    add_numbers(2)
    contract, by = yen_contract()
    client = Client.objects.get(pk=contract.client_id)
    invoice = FirstInvoice.objects.get(contract=contract)
    # 5599 JPY of fees at 19 % is 1063.81 JPY of tax: 1064 JPY, no cents in yen.
    assert (invoice.currency, invoice.subtotal, invoice.tax, invoice.total) == (
        "JPY",
        Decimal("35599"),
        Decimal("1064"),
        Decimal("36663"),
    )
    assert invoice.taxes[0]["tax"] == "1064"
    text = pdf_text(bytes(invoice.pdf))
    for expected in ("4999 JPY", "30000 JPY", "Tax 19.00 % on 5599 JPY", "1064 JPY", "Total due 36663 JPY"):
        assert expected in text, expected
    assert ".00 JPY" not in text and ".81 JPY" not in text
    pay(contract, by, amount="10000")
    portal = logged_in(client, contact(client))
    office = logged_in(None, by)
    pages = {  # the first invoice's part of each page (the contract's prices have their own decimals)
        "contract": _first_invoice_part(portal.get("/contract/")),
        "home": portal.get("/").content.decode(),
        "invoices": portal.get("/reports/invoices/").content.decode(),
        "back office": _first_invoice_part(office.get(f"/staff/contracts/{contract.pk}/")),
    }
    for name, page in pages.items():
        assert ".00 JPY" not in page and ".81 JPY" not in page, name
    for name in ("contract", "back office"):
        for expected in ("36663 JPY", "35599 net + 1064 tax", "10000 JPY", "26663 JPY"):
            assert expected in pages[name], (name, expected)
    assert "26663 JPY" in pages["home"]
    assert "36663 JPY" in pages["invoices"]
    assert 'value="26663"' in pages["back office"]  # the payment form offers the balance
    event = AuditEvent.objects.get(client=client, action="invoice.payment")
    assert (event.after["paid"], event.after["balance_due"]) == ("10000", "26663")


def test_the_back_office_payment_page_shows_amounts_as_tenants_money_shows_them(db, tenants):
    """Before: the page's message and the payment's name wrote ``amount currency`` by hand (the
    payment as stored: ``10000.00 JPY``); now each goes through ``tenants.money.shown``."""
    add_numbers(2)
    contract, by = yen_contract()
    office = logged_in(None, by)
    response = office.post(f"/staff/contracts/{contract.pk}/payment/", {"amount": "10000", "currency": "JPY",
                           "paid_on": timezone.localdate().isoformat(), "reference": "Y-1"},
                           follow=True)  # fmt: skip
    page = response.content.decode()
    invoice = FirstInvoice.objects.with_paid().get(contract=contract)
    for expected in (
        f"Payment recorded: {shown(invoice.balance_due, 'JPY')} still due",  # 26663 JPY
        f'<td class="num">{shown(Decimal("10000"), "JPY")}</td>',  # the payments table: 10000 JPY
        f'id="first-invoice-total">{shown(invoice.total, "JPY")}<',  # 36663 JPY
    ):
        assert expected in page, expected
    assert str(contract.payments.get()) == f"10000 JPY on {timezone.localdate()} (Y-1)"


def _sums_of_payments(queries: CaptureQueriesContext) -> int:
    return sum('SUM("tenants_payment"."amount")' in q["sql"] for q in queries.captured_queries)


def test_what_was_paid_against_the_first_invoice_is_read_once(db, tenants):
    """Before: status, paid, balance due, credit and is_paid each summed the payments again."""
    contract, client, by = accepted_contract()
    pay(contract, by, amount="100.00")
    invoice = FirstInvoice.objects.with_paid().get(contract=contract)
    with CaptureQueriesContext(connection) as queries:
        facts = (invoice.paid, invoice.balance_due, invoice.credit, invoice.is_paid, invoice.status)
    assert len(queries) == 0  # read with the invoice
    assert facts == (Decimal("100.00"), invoice.total - 100, Decimal("0.00"), False, "partly paid")
    plain = FirstInvoice.objects.get(contract=contract)
    with CaptureQueriesContext(connection) as queries:
        assert (plain.paid, plain.balance_due, plain.credit, plain.is_paid, plain.status) == facts
    assert len(queries) == 1
    pay(contract, by, amount="5.00")
    plain.refresh_from_db()
    assert plain.paid == Decimal("105.00")
    # Each page that shows the invoice sums its payments once.
    portal = logged_in(client, contact(client))
    office = logged_in(None, by)
    for name, client_http, url in (
        ("contract", portal, "/contract/"),
        ("home", portal, "/"),
        ("invoices", portal, "/reports/invoices/"),
        ("back office", office, f"/staff/contracts/{contract.pk}/"),
    ):
        with CaptureQueriesContext(connection) as queries:
            assert client_http.get(url).status_code == 200
        assert _sums_of_payments(queries) == 1, name


def test_a_payment_is_in_whole_units_of_its_currency(db, tenants):
    """Before: 0.50 JPY could be recorded (the amount was only checked for two decimals)."""
    contract, by = yen_contract()
    with pytest.raises(onboarding.OnboardingError, match="JPY has no amounts smaller than 1"):
        payments.payment_record(contract=contract, by=by, amount="100.50", currency="JPY",
                                paid_on=timezone.localdate(), reference="Y-1")  # fmt: skip
    assert not contract.payments.exists()
    payments.payment_record(contract=contract, by=by, amount="100", currency="JPY",
                            paid_on=timezone.localdate(), reference="  Y-2 ")  # fmt: skip
    assert contract.payments.get().reference == "Y-2"


@pytest.mark.parametrize("currency", ["KWD", "BHD"])
def test_a_contract_in_a_three_decimal_currency_is_refused_when_saved_or_sent_not_at_acceptance(
    db, tenants, currency
):
    """Before: the account manager could save and send it; the client was stuck at Accept."""
    by = manager()
    contract = contracting.contract_draft(order=submit_order(), by=by)
    version = contract.latest
    ContractVersion.objects.filter(pk=version.pk).update(
        tariffs=[{**t, "currency": currency} for t in version.tariffs]
    )
    message = f"Invoices keep two decimals; {currency} needs three."
    with pytest.raises(onboarding.OnboardingError, match=message):
        contracting.contract_send(contract=contract, by=by)
    contract.refresh_from_db()
    assert contract.client is None and contract.latest.state == ContractVersion.State.DRAFT
    assert not Client.objects.filter(slug=contract.order.portal_slug).exists()
    with pytest.raises(ValidationError, match=message):
        contracting.contract_revise(contract=contract, by=by, terms={"deposit": "10"}, body="")
    assert contract.versions.count() == 1
    response = logged_in(None, by).post(f"/staff/contracts/{contract.pk}/", form_data())
    assert response.status_code == 400 and message in response.content.decode()
    assert contract.versions.count() == 1
    response = logged_in(None, by).post(f"/staff/contracts/{contract.pk}/send/", follow=True)
    assert (
        message in response.content.decode() and contract.versions.get().state == ContractVersion.State.DRAFT
    )


def test_a_yen_deposit_with_cents_is_refused_on_the_contract_form_and_a_whole_one_prints_in_yen(db, tenants):
    """Before: the form kept 30000.50 JPY (rounded to 0.01 whatever the currency), the contract
    printed it as stored (and without its currency in the back office), and the invoice charged
    30001 JPY. Now the form refuses it and the contract prints every amount as the invoice does."""
    from tests.onboarding.test_contract_tax import form_data

    by = manager()
    contract = contracting.contract_draft(order=submit_order(), by=by)
    version = contract.latest
    fees = {"inbound": "4999.00", "recording": "600.00"}
    yen = [
        {**t, "currency": "JPY", "monthly_fee": fees.get(t["service_code"], "0.00"), "per_minute": "2.50"}
        for t in version.tariffs
    ]
    ContractVersion.objects.filter(pk=version.pk).update(tariffs=yen)
    office = logged_in(None, by)
    refused = office.post(f"/staff/contracts/{contract.pk}/", form_data(deposit="30000.50"))
    assert refused.status_code == 400
    assert "A deposit in JPY is a whole number of 1 JPY: 30000.50 is not." in refused.content.decode()
    assert contract.latest.number == 1  # nothing saved
    assert office.post(f"/staff/contracts/{contract.pk}/", form_data(deposit="30000")).status_code == 302
    latest = contract.latest
    assert latest.number == 2 and latest.deposit_shown == "30000 JPY"
    page = office.get(f"/staff/contracts/{contract.pk}/").content.decode()
    assert "plus a deposit of 30000 JPY" in page and "<strong>5599 JPY</strong>" in page
    assert "a deposit of 30000 JPY, held" in page and "4999 JPY" in page and "2.5 JPY" in page
    assert ".00 JPY" not in page and ".50 JPY" not in page
    text = pdf_text(office.get(f"/staff/contracts/{contract.pk}/v/2/pdf/").content)
    assert "a deposit of 30000 JPY, held" in text and "4999 JPY" in text and "2.5 JPY" in text
    assert ".00 JPY" not in text and ".50 JPY" not in text
    with pytest.raises(ValidationError, match="whole number of 1 JPY"):
        contracting.contract_revise(contract=contract, by=by, terms={"deposit": "0.5"}, body="")
    assert contract.latest.number == 2


def test_a_deposit_typed_300_then_300_00_is_the_same_amount_and_not_listed_as_changed(db, tenants):
    """Before: the deposit was stored as typed ("300", then "300.00"), so the revision's audit
    listed it as changed though the amount was the same."""
    by = manager()
    contract = contracting.contract_draft(order=submit_order(), by=by)
    office = logged_in(None, by)
    assert office.post(f"/staff/contracts/{contract.pk}/", form_data(deposit="300")).status_code == 302
    assert office.post(f"/staff/contracts/{contract.pk}/", form_data(deposit="300.00")).status_code == 302
    assert contract.latest.terms["deposit"] == "300.00"
    revised = AuditEvent.objects.filter(action="contract.revised").latest("id")
    assert "deposit" not in revised.after["changed"]
    contracting.contract_revise(contract=contract, by=by, terms={"deposit": "300.000"}, body="")
    assert AuditEvent.objects.filter(action="contract.revised").latest("id").after["changed"] == []
    contracting.contract_revise(contract=contract, by=by, terms={"deposit": "350"}, body="")
    assert AuditEvent.objects.filter(action="contract.revised").latest("id").after["changed"] == ["deposit"]


def test_a_deposit_stored_as_typed_by_an_earlier_version_is_compared_as_an_amount(db, tenants):
    """A version saved before deposits kept their currency's places holds "300": revised to
    "300.00", the audit does not list the deposit (the same amount)."""
    by = manager()
    contract = contracting.contract_draft(order=submit_order(), by=by)
    contracting.contract_revise(contract=contract, by=by, terms={"deposit": "300"}, body="")
    latest = contract.latest
    latest.terms["deposit"] = "300"  # as an earlier version stored it
    latest.save(update_fields=["terms"])
    contracting.contract_revise(contract=contract, by=by, terms={"deposit": "300.00"}, body="")
    assert AuditEvent.objects.filter(action="contract.revised").latest("id").after["changed"] == []
