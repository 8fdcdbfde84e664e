"""The center's standard catalogue, seeded idempotently (demo, fresh installs)."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import transaction

from tenants.models import Rounding, Service, Tariff

CATALOGUE_START = datetime.date(2026, 1, 1)
# The value added tax proposed on new contracts (the account manager sets the contract's own rate).
STANDARD_TAX_PERCENT = Decimal("19.00")
# code, name, kind, description, monthly fee, per minute, per call, rounding (prices in EUR)
STANDARD_SERVICES = [
    ("inbound", "Inbound hotline", "inbound", "Calls answered by our operators as your staff.",
     "490.00", "0.4500", "0.0000", Rounding.SIX_SIX),
    ("outbound", "Outbound campaign", "outbound", "Sales and follow-up calls to your contact lists.",
     "290.00", "0.5200", "0.1000", Rounding.PER_SECOND),
    ("survey", "Survey", "survey", "Customer satisfaction and market surveys by phone.",
     "190.00", "0.4800", "0.2500", Rounding.PER_SECOND),
    ("ivr", "Automatic attendant (IVR)", "ivr", "Menus and automatic answers that take routine calls.",
     "150.00", "0.0600", "0.0000", Rounding.PER_SECOND),
    ("recording", "Call recording", "recording", "Every call recorded and kept for 90 days.",
     "60.00", "0.0100", "0.0000", Rounding.PER_STARTED_MINUTE),
    ("transfer", "Transfer to your specialists", "transfer", "Calls passed to your own experts when needed.",
     "0.00", "0.1200", "0.0500", Rounding.PER_STARTED_MINUTE),
    ("coverage-24x7", "24/7 coverage", "coverage", "Answered 24 hours a day, 365 days a year.",
     "390.00", "0.0000", "0.0000", Rounding.PER_SECOND),
    ("coverage-business", "Business-hours coverage", "coverage", "Answered during your business hours.",
     "0.00", "0.0000", "0.0000", Rounding.PER_SECOND),
    ("languages", "Additional language", "language", "Operators speaking another language of your customers.",
     "120.00", "0.0500", "0.0000", Rounding.PER_SECOND),
]  # fmt: skip


def seed_catalogue() -> list[Service]:
    """Create the standard services and their first tariffs once; existing rows are left as they are."""
    services = []
    with transaction.atomic():
        for position, (code, name, kind, text, monthly, minute, call, rounding) in enumerate(
            STANDARD_SERVICES
        ):
            service, _ = Service.objects.get_or_create(
                code=code, defaults={"name": name, "kind": kind, "description": text, "position": position}
            )
            Tariff.objects.get_or_create(
                service=service,
                valid_from=CATALOGUE_START,
                defaults={"currency": "EUR", "monthly_fee": Decimal(monthly), "per_minute": Decimal(minute),
                          "per_call": Decimal(call), "rounding": rounding,
                          "tax_percent": STANDARD_TAX_PERCENT},
            )  # fmt: skip
            services.append(service)
    return services
