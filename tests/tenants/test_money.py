"""The money rules every page, PDF and invoice shares (``tenants.money``)."""

from __future__ import annotations

import pytest

from tenants.first_invoices import FirstInvoiceError, invoice_currency
from tenants.models import ContractVersion
from tenants.money import contract_currency

YEN = [{"service": "Inbound hotline", "currency": "JPY"}, {"service": "Recording", "currency": "JPY"}]


def test_a_contract_is_in_its_tariffs_currency_and_in_eur_when_it_prices_nothing():
    assert contract_currency(YEN) == "JPY"
    assert contract_currency([]) == "EUR"


def test_the_version_page_and_the_first_invoice_name_the_same_currency():
    for tariffs in (YEN, []):
        version = ContractVersion(tariffs=tariffs)
        assert version.currency == invoice_currency(tariffs) == contract_currency(tariffs)


def test_a_contract_priced_in_two_currencies_cannot_be_invoiced():
    with pytest.raises(FirstInvoiceError, match="One currency per invoice"):
        invoice_currency([*YEN, {"service": "Recording", "currency": "EUR"}])
