"""Monthly invoices: Decimal money, rounding rules, lines that reconcile with the calls, immutability."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from reporting import billing
from reporting.models import Invoice, InvoiceLine
from telephony.calls.models import Call
from tests.factories import CallFactory
from tests.reporting.factories import contract_in_force, tariff

MARCH = dt.date(2026, 3, 1)
UTC = dt.UTC


def at(day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def handled(start, talk, hold=0, **kw) -> Call:
    return CallFactory(
        started_at=start,
        queued_at=start,
        answered_at=start,
        wait_seconds=0,
        talk_seconds=talk,
        hold_seconds=hold,
        wrapup_seconds=10,
        outcome=Call.Outcome.HANDLED,
        **kw,
    )


TARIFFS = [
    tariff("inbound", "Inbound hotline", fee="490.00", minute="0.4500", rounding="30/6"),
    tariff("ivr", "IVR", fee="150.00", minute="0.0600", call="0.0100"),
    tariff("recording", "Call recording", fee="60.00", minute="0.0100", rounding="60/60"),
    tariff("transfer", "Transfers", call="0.0500"),
    tariff("coverage-24x7", "24/7 coverage", fee="390.00"),
]


@pytest.mark.parametrize(
    ("seconds", "rule", "billed"),
    [
        (0, "30/6", 0),
        (1, "30/6", 30),
        (30, "30/6", 30),
        (31, "30/6", 36),
        (37, "30/6", 42),
        (5, "6/6", 6),
        (13, "6/6", 18),
        (61, "60/60", 120),
        (60, "60/60", 60),
        (7, "1/1", 7),
    ],
)
def test_rounding_rules(seconds, rule, billed):
    assert billing.rounded_seconds(seconds, rule) == billed


@pytest.fixture
def alpha(db, tenants):
    contract_in_force(tenants.alpha, tariffs=TARIFFS, tax_percent="19")
    with tenant_context(tenants.alpha):
        yield tenants.alpha


def make_month():
    calls = [
        handled(at(2), 10),  # 10 s → 30 s billed
        handled(at(3), 31, hold=6, recording_seconds=61, recording_sid="RE1"),  # 37 s → 42 s; rec 120 s
        handled(at(31, 23, 59), 100, transferred_to="legal"),  # 100 s → 102 s
        CallFactory(
            started_at=at(4),
            ivr_started_at=at(4),
            ended_at=at(4) + dt.timedelta(seconds=45),
            outcome=Call.Outcome.COMPLETED_IN_IVR,
        ),
        CallFactory(
            started_at=at(5),
            ivr_started_at=at(5),
            queued_at=at(5) + dt.timedelta(seconds=20),
            wait_seconds=3,
            outcome=Call.Outcome.ABANDONED,
        ),
    ]
    handled(dt.datetime(2026, 4, 1, 0, 0, 1, tzinfo=UTC), 600)  # April: not billed in March
    handled(dt.datetime(2026, 2, 28, 23, 59, tzinfo=UTC), 600)  # February: not billed in March
    return calls


def test_invoice_lines_price_the_calls_by_the_contract(alpha):
    make_month()
    invoice = billing.invoice_build(month=MARCH)
    lines = {(line.service_code, line.kind): line for line in invoice.lines.all()}
    inbound = lines[("inbound", "minutes")]
    assert (inbound.call_count, inbound.billed_seconds) == (3, 30 + 42 + 102)
    assert inbound.quantity == Decimal("2.9000") and inbound.amount == Decimal("1.31")  # 1.305 half-up
    assert lines[("ivr", "minutes")].billed_seconds == 45 + 20
    assert lines[("ivr", "calls")].amount == Decimal("0.02")
    assert lines[("recording", "minutes")].billed_seconds == 120
    assert lines[("transfer", "calls")].call_count == 1
    assert lines[("coverage-24x7", "monthly_fee")].amount == Decimal("390.00")
    assert invoice.subtotal == sum(line.amount for line in invoice.lines.all())
    assert invoice.tax == (invoice.subtotal * Decimal("0.19")).quantize(Decimal("0.01"))
    assert invoice.total == invoice.subtotal + invoice.tax and invoice.currency == "EUR"


def test_usage_lines_reconcile_with_the_call_records(alpha):
    make_month()
    invoice = billing.invoice_build(month=MARCH)
    for line in invoice.lines.exclude(kind=InvoiceLine.Kind.MONTHLY_FEE):
        behind = billing.line_calls(line)
        assert behind.count() == line.call_count
        if line.kind == "minutes" and line.service_code == "inbound":
            expected = sum(billing.rounded_seconds(c.talk_seconds + c.hold_seconds, "30/6") for c in behind)
            assert expected == line.billed_seconds


def test_rebuilding_a_draft_gives_the_same_invoice(alpha):
    make_month()
    first = billing.invoice_build(month=MARCH)
    lines = list(first.lines.values("position", "description", "quantity", "unit_price", "amount"))
    again = billing.invoice_build(month=dt.date(2026, 3, 17))
    assert (again.pk, again.number, again.digest, again.total) == (
        first.pk,
        first.number,
        first.digest,
        first.total,
    )
    assert list(again.lines.values("position", "description", "quantity", "unit_price", "amount")) == lines


def test_an_issued_invoice_never_changes_and_is_corrected_by_credit_notes(alpha):
    make_month()
    invoice = billing.invoice_issue(invoice=billing.invoice_build(month=MARCH))
    assert invoice.pdf_sha256 and bytes(invoice.pdf).startswith(b"%PDF")
    handled(at(20), 300)  # a late call does not alter what was issued
    rebuilt = billing.invoice_build(month=MARCH)
    assert (rebuilt.digest, rebuilt.total) == (invoice.digest, invoice.total)
    invoice.refresh_from_db()
    invoice.total += 1
    with pytest.raises(ValidationError):
        invoice.save()
    line = invoice.lines.first()
    with pytest.raises(ValidationError):
        line.save()
    with pytest.raises(ValidationError):
        line.delete()
    with pytest.raises(ValidationError):
        billing.invoice_issue(invoice=invoice)
    note = billing.credit_note_create(invoice=invoice, subtotal=Decimal("10"), reason="Outage on 3 March")
    assert note.total == Decimal("11.90") and note.number.startswith("CN-")
    with pytest.raises(ValidationError):
        billing.credit_note_create(invoice=invoice, subtotal=invoice.subtotal, reason="too much")
    paid = billing.invoice_mark_paid(invoice=invoice)
    assert paid.state == Invoice.State.PAID and paid.digest == invoice.digest


def test_without_a_contract_there_is_nothing_to_invoice(db, tenants):
    with tenant_context(tenants.beta), pytest.raises(ValidationError):
        billing.invoice_build(month=MARCH)


@pytest.mark.parametrize(
    ("tariffs", "refusal"),
    [
        ([TARIFFS[0], tariff("ivr", "IVR", fee="150", cur="USD")], "One currency per invoice"),
        ([tariff("inbound", "Inbound hotline", fee="490.000", cur="KWD")], "KWD needs three"),
        ([], "prices no service"),
    ],
)
def test_the_monthly_invoice_refuses_the_currencies_the_first_invoice_refuses(db, tenants, tariffs, refusal):
    contract_in_force(tenants.alpha, tariffs=tariffs, tax_percent="19")
    with tenant_context(tenants.alpha), pytest.raises(ValidationError, match=refusal):
        billing.invoice_build(month=MARCH)
