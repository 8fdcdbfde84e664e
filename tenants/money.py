"""Money in exact ``Decimal``: each currency's smallest unit, the one rounding, the tax per rate.

Every invoice uses these, the first invoice (``tenants.first_invoices``) and the monthly ones
(``reporting.billing``): a yen amount has no cents on either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tenants.contracts import Tax

# The currency of a contract that prices nothing yet.
DEFAULT_CURRENCY = "EUR"

# ISO 4217 currencies whose smallest unit is not the cent; every other currency has two decimals.
MINOR_UNIT_DIGITS = {
    **dict.fromkeys(["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX"], 0),
    **dict.fromkeys(["VND", "VUV", "XAF", "XOF", "XPF"], 0),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}


def minor_unit(currency: str) -> Decimal:
    """The currency's smallest unit: 0.01 EUR, 1 JPY."""
    return Decimal(1).scaleb(-MINOR_UNIT_DIGITS.get(currency, 2))


def contract_currency(tariffs: Sequence[Mapping[str, str]]) -> str:
    """The currency of a contract's prices: its tariffs', else EUR (a contract that prices nothing).
    One currency per contract, checked on save by ``tenants.first_invoices.invoice_currency``."""
    return tariffs[0]["currency"] if tariffs else DEFAULT_CURRENCY


def invoice_problem(currency: str) -> str:
    """Why amounts in ``currency`` cannot be invoiced ("" when they can): an invoice keeps two
    decimals, so a currency of three (KWD, BHD) cannot be. The one check, wherever a contract is
    saved, sent, accepted or invoiced."""
    if minor_unit(currency) < Decimal("0.01"):
        return f"Invoices keep two decimals; {currency} needs three."
    return ""


def whole(value: Decimal, currency: str) -> bool:
    """Whether ``value`` is a whole number of the currency's smallest unit (nothing to round): what
    a payment, a deposit or a credit note must be, since an invoice charges no fraction of it."""
    return value == value.quantize(minor_unit(currency))


def money(value: Decimal, currency: str = "EUR") -> Decimal:
    """``value`` rounded half up to the currency's smallest unit: the one rounding of money."""
    return value.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def amount(value: object, currency: str) -> Decimal:
    """A stored amount (a database decimal keeps two places, a JSON one is a string) as the currency
    writes it: 1104.00 JPY is 1104, 954.5 EUR is 954.50. What every invoice output shows."""
    return money(Decimal(str(value)), currency)


def price(value: object, currency: str) -> Decimal:
    """A unit price, exact (a rate may go below the smallest unit: 2.5 JPY, 0.015 EUR a minute) but
    never with fewer places than the currency has nor with trailing zeros beyond them."""
    exact = Decimal(str(value)).normalize()
    unit = minor_unit(currency)
    return exact.quantize(unit) if exact.as_tuple().exponent >= unit.as_tuple().exponent else exact


def shown(value: object, currency: str) -> str:
    """An amount with its currency, as pages and PDFs print it: ``1104 JPY``, ``120.00 EUR``."""
    return f"{amount(value, currency)} {currency}"


def tax_breakdown(groups: dict[Tax, Decimal], currency: str) -> list[dict[str, object]]:
    """Net and tax per rate (tax rounded once per rate on the net at that rate)."""
    return [
        {
            "percent": str(tax.rate),
            "net": str(net),
            "tax": str(money(net * tax.rate / 100, currency)),
            "reverse_charge": tax.reverse_charge,
            "client_vat_id": tax.client_vat_id if tax.reverse_charge else "",
        }
        for tax, net in groups.items()
    ]
