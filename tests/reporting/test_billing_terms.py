"""Money a client can sign: tax as a contract term, proration by days of service, effective-dated
prices, exact seconds, credit notes that add back exactly (docs/billing.md)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from accounts.models import Role
from reporting import billing
from reporting.invoice_pdf import render_pdf, table_rows
from reporting.keys import api_key_create
from reporting.models import Invoice
from telephony.calls.models import Call, TelephonySettings
from tests.conftest import http, logged_in, make_user
from tests.factories import CallFactory
from tests.reporting.factories import accept_revision, contract_in_force, tariff

NOVEMBER, DECEMBER = dt.date(2026, 11, 1), dt.date(2026, 12, 1)
FEES = [
    tariff("inbound", "Inbound hotline", fee="490.00", minute="0.4500"),
    tariff("coverage-24x7", "24/7 coverage", fee="600.00"),
]


def utc(month: int, day: int, hour: int = 10, minute: int = 0, second: float = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC) + dt.timedelta(seconds=second)


def handled(start: dt.datetime, talk: int) -> Call:
    return CallFactory(
        started_at=start, queued_at=start, answered_at=start, wait_seconds=0, talk_seconds=talk,
        outcome=Call.Outcome.HANDLED,
    )  # fmt: skip


def build(tenant, month: dt.date) -> Invoice:
    with tenant_context(tenant):
        return billing.invoice_build(month=month)


@pytest.fixture
def alpha(db, tenants):
    return tenants.alpha


# Tax


def test_an_invoice_adds_the_contracts_tax_rate_to_its_net_and_shows_the_gross(alpha):
    contract_in_force(alpha, tariffs=[tariff("coverage-24x7", "Service", fee="3063.12")], tax_percent="19.00")
    invoice = build(alpha, DECEMBER)
    assert (invoice.subtotal, invoice.tax, invoice.total) == (
        Decimal("3063.12"),
        Decimal("581.99"),
        Decimal("3645.11"),
    )
    assert invoice.tax_percent == Decimal("19.00")
    assert invoice.taxes == [
        {"percent": "19.00", "net": "3063.12", "tax": "581.99", "reverse_charge": False, "client_vat_id": ""}
    ]


def test_a_reverse_charge_invoice_carries_no_tax_and_names_the_clients_vat_id(alpha):
    contract_in_force(
        alpha,
        tariffs=[tariff("coverage-24x7", "Service", fee="1000.00")],
        tax_treatment="reverse_charge",
        tax_percent="19.00",
        client_vat_id="ATU12345678",
    )
    invoice = build(alpha, DECEMBER)
    assert (invoice.tax, invoice.total, invoice.tax_percent) == (
        Decimal("0.00"),
        Decimal("1000.00"),
        Decimal("0.00"),
    )
    (rate,) = invoice.tax_rates
    assert rate["reverse_charge"] and "VAT id ATU12345678" in rate["label"]
    with tenant_context(alpha):
        assert all(line.reverse_charge for line in invoice.lines.all())


def test_a_month_under_two_tax_rates_shows_the_tax_of_each_rate_rounded_once(alpha):
    contract = contract_in_force(
        alpha, tariffs=[tariff("coverage-24x7", "Service", fee="310.00")], tax_percent="19"
    )
    accept_revision(
        contract,
        tariffs=[tariff("coverage-24x7", "Service", fee="310.00")],
        accepted_at=utc(12, 10, 15),
        tax_percent="16.00",
    )
    invoice = build(alpha, DECEMBER)
    assert invoice.tax_percent is None  # several rates
    assert [(t["percent"], t["net"], t["tax"]) for t in invoice.taxes] == [
        ("19.00", "100.00", "19.00"),  # 1 to 10 December: 10/31 of 310.00
        ("16.00", "210.00", "33.60"),  # 11 to 31 December
    ]
    assert invoice.tax == Decimal("52.60") and invoice.total == Decimal("362.60")


# Credit notes


def test_three_credit_notes_crediting_the_whole_net_give_back_exactly_the_invoices_tax(alpha):
    contract_in_force(alpha, tariffs=[tariff("coverage-24x7", "Service", fee="3190.16")], tax_percent="19")
    with tenant_context(alpha):
        invoice = billing.invoice_issue(invoice=billing.invoice_build(month=DECEMBER))
        assert invoice.tax == Decimal("606.13")
        parts = [Decimal("1063.39"), Decimal("1063.39"), Decimal("1063.38")]
        # Rounding each note's tax on its own gives back 606.12 of 606.13:
        assert sum(billing.money(p * Decimal("0.19")) for p in parts) == Decimal("606.12")
        notes = [billing.credit_note_create(invoice=invoice, subtotal=p, reason="Outage") for p in parts]
    assert [n.tax for n in notes] == [Decimal("202.04"), Decimal("202.05"), Decimal("202.04")]
    assert sum(n.tax for n in notes) == invoice.tax
    assert sum(n.total for n in notes) == invoice.total
    assert all(n.total == n.subtotal + n.tax for n in notes)


def test_credit_notes_spread_over_two_rates_give_back_each_rates_tax_exactly(alpha):
    contract = contract_in_force(
        alpha, tariffs=[tariff("coverage-24x7", "Service", fee="999.99")], tax_percent="19"
    )
    accept_revision(
        contract,
        tariffs=[tariff("coverage-24x7", "Service", fee="999.99")],
        accepted_at=utc(12, 6),
        tax_percent="7.00",
    )
    with tenant_context(alpha):
        invoice = billing.invoice_issue(invoice=billing.invoice_build(month=DECEMBER))
        net = invoice.subtotal
        parts = [Decimal("333.33"), Decimal("0.01"), net - Decimal("333.34")]
        notes = [billing.credit_note_create(invoice=invoice, subtotal=p, reason="Goodwill") for p in parts]
        with pytest.raises(ValidationError, match="at most what was invoiced"):
            billing.credit_note_create(invoice=invoice, subtotal=Decimal("0.01"), reason="One cent too far")
    for index, rate in enumerate(invoice.taxes):
        assert sum(Decimal(n.taxes[index]["net"]) for n in notes) == Decimal(rate["net"])
        assert sum(Decimal(n.taxes[index]["tax"]) for n in notes) == Decimal(rate["tax"])
    assert sum(n.total for n in notes) == invoice.total


# Proration by days of service


def test_fees_are_charged_only_for_the_days_from_the_start_date(alpha):
    contract_in_force(alpha, tariffs=FEES, tax_percent="19", start_date="2026-12-11")
    with tenant_context(alpha):
        handled(utc(11, 20), 60)  # before the start: not billed
        handled(utc(12, 5), 60)  # idem
        handled(utc(12, 11), 120)
        with pytest.raises(ValidationError, match="No day of November 2026"):
            billing.invoice_build(month=NOVEMBER)
        assert not Invoice.objects.filter(period_start=NOVEMBER).exists()
        invoice = billing.invoice_build(month=DECEMBER)
        lines = {line.description: line for line in invoice.lines.all()}
    assert lines[
        "Inbound hotline: monthly fee, 21 of 31 days (2026-12-11 to 2026-12-31, contract v1)"
    ].amount == (
        Decimal("331.94")  # 490.00 x 21 / 31 = 331.935…
    )
    assert lines[
        "24/7 coverage: monthly fee, 21 of 31 days (2026-12-11 to 2026-12-31, contract v1)"
    ].amount == (
        Decimal("406.45")  # 600.00 x 21 / 31 = 406.451…
    )
    minutes = lines["Inbound hotline: minutes (1/1) (2026-12-11 to 2026-12-31, contract v1)"]
    assert (minutes.call_count, minutes.billed_seconds, minutes.amount) == (1, 120, Decimal("0.90"))
    assert (minutes.period_start, minutes.period_end) == (dt.date(2026, 12, 11), dt.date(2026, 12, 31))


def test_fees_stop_after_the_end_date(alpha):
    contract_in_force(
        alpha, tariffs=FEES[:1], tax_percent="19", start_date="2026-01-01", end_date="2026-12-15"
    )
    invoice = build(alpha, DECEMBER)
    with tenant_context(alpha):
        (fee,) = invoice.lines.filter(kind="monthly_fee")
    assert fee.amount == Decimal("237.10")  # 490.00 x 15 / 31 = 237.096…
    assert fee.description.startswith("Inbound hotline: monthly fee, 15 of 31 days")


def test_days_of_service_are_counted_in_the_companys_time_zone(alpha):
    contract_in_force(alpha, tariffs=FEES[:1], tax_percent="19", start_date="2026-12-11")
    with tenant_context(alpha):
        TelephonySettings.objects.update_or_create(pk=1, defaults={"timezone": "Europe/Berlin"})
        handled(utc(12, 10, 22, 30), 60)  # 23:30 on 10 December in Berlin: before the start
        handled(utc(12, 10, 23, 30), 60)  # 00:30 on 11 December in Berlin: billed
        invoice = billing.invoice_build(month=DECEMBER)
        minutes = invoice.lines.get(kind="minutes")
    assert (minutes.call_count, minutes.billed_seconds) == (1, 60)


# Effective-dated prices


def test_a_revision_accepted_in_december_does_not_reprice_november(alpha):
    contract = contract_in_force(alpha, tariffs=FEES, tax_percent="19")
    assert build(alpha, NOVEMBER).subtotal == Decimal("1090.00")
    accept_revision(
        contract,
        tariffs=[tariff("inbound", "Inbound hotline", fee="599.00", minute="0.6000"), FEES[1]],
        accepted_at=utc(12, 10, 15),
    )
    assert build(alpha, NOVEMBER).subtotal == Decimal("1090.00")  # the draft rebuilt: same prices


def test_a_month_spanning_two_versions_has_lines_per_version_with_their_period(alpha):
    contract = contract_in_force(alpha, tariffs=FEES[:1], tax_percent="19")
    accept_revision(
        contract,
        tariffs=[tariff("inbound", "Inbound hotline", fee="620.00", minute="0.6000")],
        accepted_at=utc(12, 10, 15),  # in force from 11 December
    )
    with tenant_context(alpha):
        handled(utc(12, 10, 20), 60)  # under version 1: 0.45 a minute
        handled(utc(12, 11, 8), 60)  # under version 2: 0.60 a minute
        invoice = billing.invoice_build(month=DECEMBER)
        lines = [
            (line.contract_version, line.period_start.day, line.period_end.day, line.kind, line.amount)
            for line in invoice.lines.all()
        ]
        descriptions = [line.description for line in invoice.lines.all()]
    assert lines == [
        (1, 1, 10, "monthly_fee", Decimal("158.06")),  # 490.00 x 10 / 31 = 158.064…
        (1, 1, 10, "minutes", Decimal("0.45")),
        (2, 11, 31, "monthly_fee", Decimal("420.00")),  # 620.00 x 21 / 31
        (2, 11, 31, "minutes", Decimal("0.60")),
    ]
    assert (
        descriptions[0]
        == "Inbound hotline: monthly fee, 10 of 31 days (2026-12-01 to 2026-12-10, contract v1)"
    )
    assert descriptions[3] == "Inbound hotline: minutes (1/1) (2026-12-11 to 2026-12-31, contract v2)"
    assert invoice.subtotal == Decimal("579.11")
    with tenant_context(alpha):
        for line in invoice.lines.filter(kind="minutes"):
            assert billing.line_calls(line).count() == line.call_count == 1


# Exact seconds


def test_minutes_are_priced_from_exact_seconds_with_money_rounded_once_per_line(alpha):
    contract_in_force(alpha, tariffs=[tariff("inbound", "Inbound", minute="0.4500")], tax_percent="19")
    with tenant_context(alpha):
        handled(utc(12, 3), 2)  # 2 s x 0.45 / 60 = 0.015: half up 0.02 (0.0333 min x 0.45 gave 0.01)
        invoice = billing.invoice_build(month=DECEMBER)
        line = invoice.lines.get(kind="minutes")
    assert (line.billed_seconds, line.quantity, line.amount) == (2, Decimal("0.0333"), Decimal("0.02"))


def test_ivr_time_is_billed_by_the_tariffs_rule_from_its_exact_duration(alpha):
    contract_in_force(alpha, tariffs=[tariff("ivr", "IVR", minute="0.0600")], tax_percent="19")
    with tenant_context(alpha):
        start = utc(12, 3)
        CallFactory(
            started_at=start, ivr_started_at=start, ended_at=start + dt.timedelta(seconds=12.4),
            outcome=Call.Outcome.COMPLETED_IN_IVR,
        )  # fmt: skip
        CallFactory(
            started_at=utc(12, 4), ivr_started_at=utc(12, 4), queued_at=utc(12, 4, second=20.2),
            wait_seconds=1, outcome=Call.Outcome.ABANDONED,
        )  # fmt: skip
        line = billing.invoice_build(month=DECEMBER).lines.get(kind="minutes")
    assert line.billed_seconds == 13 + 21  # every started second (it was rounded to 12 + 20)
    assert line.amount == Decimal("0.03")  # 34 s x 0.06 / 60 = 0.034


def test_money_is_rounded_half_up_to_the_currencys_smallest_unit():
    assert billing.money(Decimal("0.015")) == Decimal("0.02")
    assert billing.money(Decimal("0.0149999")) == Decimal("0.01")
    assert billing.money(Decimal("12.5"), "JPY") == Decimal("13")
    assert billing.allocate(Decimal("1.00"), [Decimal("1"), Decimal("1"), Decimal("1")], billing.CENT) == [
        Decimal("0.34"),
        Decimal("0.33"),
        Decimal("0.33"),
    ]


# The same figures in every output


def test_the_pdf_the_portal_the_api_and_the_back_office_show_the_invoices_figures(alpha, tenants):
    contract = contract_in_force(alpha, tariffs=FEES, tax_percent="19")
    accept_revision(contract, tariffs=FEES, accepted_at=utc(12, 15), tax_percent="16.00")
    with tenant_context(alpha):
        handled(utc(12, 3), 61)
        invoice = billing.invoice_issue(invoice=billing.invoice_build(month=DECEMBER))
        rows = table_rows(invoice)
        assert render_pdf(invoice=invoice) == bytes(invoice.pdf)
    labels = [f"Tax 19.00 % on {invoice.taxes[0]['net']}", f"Tax 16.00 % on {invoice.taxes[1]['net']}"]
    assert rows[-4:] == [
        ["", "Net", "", "", f"{invoice.subtotal} EUR"],
        ["", labels[0], "", "", f"{invoice.taxes[0]['tax']} EUR"],
        ["", labels[1], "", "", f"{invoice.taxes[1]['tax']} EUR"],
        ["", "Gross", "", "", f"{invoice.total} EUR"],
    ]
    assert invoice.total == invoice.subtotal + Decimal(invoice.taxes[0]["tax"]) + Decimal(
        invoice.taxes[1]["tax"]
    )

    viewer = logged_in(alpha, make_user(alpha, role=Role.CLIENT_VIEWER))
    page = viewer.get(f"/reports/invoices/{invoice.pk}/").content.decode()
    for label in labels:
        assert label in page
    assert f"<strong>{invoice.total}</strong>" in page

    with tenant_context(alpha):
        _, key = api_key_create(name="crm", scopes=["read_reports"])
    data = http(alpha).get(f"/api/v1/invoices/{invoice.pk}/", HTTP_AUTHORIZATION=f"Bearer {key}").json()
    assert (data["subtotal"], data["tax"], data["total"], data["tax_percent"]) == (
        str(invoice.subtotal),
        str(invoice.tax),
        str(invoice.total),
        None,
    )
    assert [(t["percent"], t["net"], t["tax"]) for t in data["taxes"]] == [
        (t["percent"], t["net"], t["tax"]) for t in invoice.taxes
    ]
    assert [line["contract_version"] for line in data["lines"]] == [1, 1, 1, 2, 2, 2]

    manager = logged_in(None, make_user(None, role=Role.ACCOUNT_MANAGER))
    office = manager.get(f"/backoffice/reports/invoices/{alpha.pk}/{invoice.pk}/").content.decode()
    for label in labels:
        assert label in office
    assert f"{invoice.total} EUR" in office

    other = logged_in(tenants.beta, make_user(tenants.beta, role=Role.CLIENT_ADMIN))
    assert other.get(f"/reports/invoices/{invoice.pk}/").status_code == 404
