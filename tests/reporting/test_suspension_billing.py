"""Issue 18: a suspended period is billed as the contract says (docs/billing.md): by default the
days a company was suspended for the whole day carry no fee; ``suspended_days_billed`` keeps them."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from reporting import billing
from telephony.calls.models import TelephonySettings
from tenants.models import AuditEvent
from tests.reporting.factories import contract_in_force, tariff

MARCH = dt.date(2026, 3, 1)
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def event(client, action: str, at: dt.datetime) -> None:
    made = AuditEvent.objects.create(action=action, object_type="client", object_id=client.pk, client=client)
    AuditEvent.objects.filter(pk=made.pk).update(at=at)  # auto_now_add


@pytest.fixture
def suspended(db, tenants):
    """Alpha suspended from 10 March 12:00 to 20 March 08:00, Berlin time: 11 to 19 March are
    suspended all day (9 days); 10 and 20 March had service."""
    alpha = tenants.alpha
    event(alpha, "client.suspended", dt.datetime(2026, 3, 10, 12, tzinfo=BERLIN))
    event(alpha, "client.resumed", dt.datetime(2026, 3, 20, 8, tzinfo=BERLIN))
    with tenant_context(alpha):
        TelephonySettings.objects.update_or_create(pk=1, defaults={"timezone": "Europe/Berlin"})
    return alpha


def fees(tenant) -> dict[str, Decimal]:
    with tenant_context(tenant):
        invoice = billing.invoice_build(month=MARCH)
        return {line.description: line.amount for line in invoice.lines.filter(kind="monthly_fee")}


def test_days_suspended_all_day_carry_no_fee(suspended):
    contract_in_force(suspended, tariffs=[tariff("coverage-24x7", "Coverage", fee="310.00")])
    assert fees(suspended) == {
        "Coverage: monthly fee, 10 of 31 days (2026-03-01 to 2026-03-10, contract v1)": Decimal("100.00"),
        "Coverage: monthly fee, 12 of 31 days (2026-03-20 to 2026-03-31, contract v1)": Decimal("120.00"),
    }


def test_a_contract_may_keep_fees_running_through_a_suspension(suspended):
    contract_in_force(
        suspended, tariffs=[tariff("coverage-24x7", "Coverage", fee="310.00")], suspended_days_billed=True
    )
    assert fees(suspended) == {"Coverage: monthly fee": Decimal("310.00")}


def test_a_suspension_still_running_stops_the_fees_from_its_first_whole_day(db, tenants):
    alpha = tenants.alpha
    event(alpha, "client.suspended", dt.datetime(2026, 3, 25, 23, 59, tzinfo=dt.UTC))
    contract_in_force(alpha, tariffs=[tariff("coverage-24x7", "Coverage", fee="310.00")])
    assert fees(alpha) == {
        "Coverage: monthly fee, 25 of 31 days (2026-03-01 to 2026-03-25, contract v1)": Decimal("250.00")
    }
    with tenant_context(tenants.beta):  # another company's suspension is not beta's
        contract_in_force(tenants.beta, tariffs=[tariff("coverage-24x7", "Coverage", fee="310.00")])
    assert fees(tenants.beta) == {"Coverage: monthly fee": Decimal("310.00")}
