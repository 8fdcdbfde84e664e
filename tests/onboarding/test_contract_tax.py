"""Tax and the service period as contract terms: proposed from the catalogue, set by the account
manager on the contract form, printed on the contract."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tenants import contracting, contracts
from tenants.catalogue import STANDARD_TAX_PERCENT
from tenants.models import Contract
from tests.conftest import logged_in
from tests.onboarding.helpers import manager, submit_order


def queue_rows(*rows: dict[str, object], extra: int = 0) -> dict[str, object]:
    """The contract form's queues as the browser posts them (a Django formset, prefix ``queues``)."""
    data: dict[str, object] = {
        "queues-TOTAL_FORMS": len(rows) + extra, "queues-INITIAL_FORMS": 0,
        "queues-MIN_NUM_FORMS": 0, "queues-MAX_NUM_FORMS": 1000,
    }  # fmt: skip
    for number, row in enumerate(rows):
        data.update({f"queues-{number}-{k}": "" if v is None else v for k, v in row.items()})
    return data


def form_data(*rows: dict[str, object], **overrides: object) -> dict[str, object]:
    rows = rows or ({"name": "Main", "sl_percent": 80, "sl_seconds": 20},)
    data = {
        **queue_rows(*rows), "term_months": 12, "notice_days": 30, "start_date": "2026-12-11",
        "coverage": "Business hours", "end_date": "", "tax_treatment": "standard", "tax_percent": "19.00",
        "client_vat_id": "", "body": "",
    }  # fmt: skip
    return {**data, **overrides}


@pytest.fixture
def drafted(db, tenants) -> Contract:
    return contracting.contract_draft(order=submit_order(), by=manager())


def test_a_drafted_contract_proposes_the_catalogues_tax_rate_and_the_clients_tax_number(drafted):
    version = drafted.latest
    assert (version.terms["tax_treatment"], version.terms["tax_percent"]) == (
        "standard",
        str(STANDARD_TAX_PERCENT),
    )
    assert version.terms["client_vat_id"] == drafted.order.tax_number
    assert {line["tax_percent"] for line in version.tariffs} == {str(STANDARD_TAX_PERCENT)}
    assert contracts.contract_tax(version.terms) == contracts.Tax(
        "standard", Decimal("19.00"), drafted.order.tax_number
    )


def test_the_account_manager_sets_the_tax_rate_on_the_contract_form_and_the_contract_prints_it(drafted):
    client = logged_in(None, manager())
    response = client.post(
        f"/staff/contracts/{drafted.pk}/", form_data(tax_percent="16", end_date="2027-12-10")
    )
    assert response.status_code == 302
    version = drafted.latest
    assert version.number == 2
    assert (version.terms["tax_treatment"], version.terms["tax_percent"], version.terms["end_date"]) == (
        "standard",
        "16.00",
        "2027-12-10",
    )
    page = client.get(f"/staff/contracts/{drafted.pk}/v/2/").content.decode()
    assert "Value added tax at 16.00 % is added to each invoice." in page
    assert "Service ends on 2027-12-10." in page
    assert (
        contracts.contract_tax(version.terms).sentence()
        == "Value added tax at 16.00 % is added to each invoice."
    )
    assert contracts.render_pdf(version=version).startswith(b"%PDF")


def test_reverse_charge_is_chosen_with_the_clients_vat_id_and_printed(drafted):
    client = logged_in(None, manager())
    data = form_data(tax_treatment="reverse_charge", tax_percent="", client_vat_id="atu 1234 5678")
    assert client.post(f"/staff/contracts/{drafted.pk}/", data).status_code == 302
    terms = drafted.latest.terms
    assert (terms["tax_treatment"], terms["tax_percent"], terms["client_vat_id"]) == (
        "reverse_charge",
        "0.00",
        "ATU12345678",
    )
    page = client.get(f"/staff/contracts/{drafted.pk}/v/2/").content.decode()
    assert "Reverse charge: the client (VAT id ATU12345678) accounts for the value added tax" in page


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"tax_treatment": "reverse_charge", "client_vat_id": ""},
            "Reverse charge needs the client&#x27;s VAT id.",
        ),
        ({"tax_percent": ""}, "Enter the tax rate (0 when no tax applies)."),
        ({"tax_percent": "120"}, "Ensure this value is less than or equal to 100."),
        ({"tax_percent": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"tax_percent": "abc"}, "Enter a number."),
        ({"client_vat_id": "12"}, "A VAT id is a country code and 2 to 13 letters or digits"),
        ({"tax_treatment": "none"}, "Select a valid choice."),
        ({"end_date": "2026-12-01"}, "The service cannot end before it starts."),
    ],
)
def test_a_bad_tax_or_end_date_is_a_form_error_and_saves_no_version(drafted, overrides, message):
    client = logged_in(None, manager())
    response = client.post(f"/staff/contracts/{drafted.pk}/", form_data(**overrides))
    assert response.status_code == 400 and message in response.content.decode()
    assert drafted.versions.count() == 1
