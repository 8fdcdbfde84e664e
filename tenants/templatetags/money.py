"""``{{ amount|money:currency }}``: an amount shown to its currency's smallest unit (1064 JPY, 954.50 EUR);
``{{ unit_price|price:currency }}``: a unit price, exact, with at least the currency's places;
``{{ amount|shown:currency }}``: the amount and its currency, as ``tenants.money.shown`` prints them."""

from __future__ import annotations

from decimal import InvalidOperation

from django import template

from tenants import money as money_rules

register = template.Library()


@register.filter
def money(value: object, currency: str) -> str:
    """``value`` rounded to ``currency``'s smallest unit; what is not a number is shown as it is."""
    try:
        return str(money_rules.amount(value, currency))
    except (InvalidOperation, ValueError):
        return str(value)


@register.filter
def price(value: object, currency: str) -> str:
    """``value`` as ``tenants.money.price``; what is not a number is shown as it is."""
    try:
        return str(money_rules.price(value, currency))
    except (InvalidOperation, ValueError):
        return str(value)


@register.filter
def shown(value: object, currency: str) -> str:
    """``value`` with its currency as ``tenants.money.shown`` (``1104 JPY``); what is not a number is
    shown as it is, followed by the currency."""
    try:
        return money_rules.shown(value, currency)
    except (InvalidOperation, ValueError):
        return f"{value} {currency}"
