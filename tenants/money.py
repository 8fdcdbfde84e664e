"""Money in exact ``Decimal``: each currency's smallest unit, the one rounding, the tax per rate.

Every invoice uses these, the first invoice (``tenants.first_invoices``) and the monthly ones
(``reporting.billing``): a yen amount has no cents on either.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tenants.contracts import Tax

# ISO 4217 currencies whose smallest unit is not the cent; every other currency has two decimals.
MINOR_UNIT_DIGITS = {
    **dict.fromkeys(["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX"], 0),
    **dict.fromkeys(["VND", "VUV", "XAF", "XOF", "XPF"], 0),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}


def minor_unit(currency: str) -> Decimal:
    """The currency's smallest unit: 0.01 EUR, 1 JPY."""
    return Decimal(1).scaleb(-MINOR_UNIT_DIGITS.get(currency, 2))


def money(value: Decimal, currency: str = "EUR") -> Decimal:
    """``value`` rounded half up to the currency's smallest unit: the one rounding of money."""
    return value.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


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
