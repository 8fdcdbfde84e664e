"""A company's expected calls per 15 minutes from its contract, for a staffing forecast that has no
history yet (a new or quiet company): the order's calls per month spread evenly over the company's
open intervals (its business hours and holidays, in its time zone), never above its peak hour."""

from __future__ import annotations

import datetime as dt

from django_tenants.utils import tenant_context

from telephony.calls.hours import is_open
from telephony.calls.models import TelephonySettings
from tenants.models import Client, Contract

DAYS_PER_MONTH = 365.25 / 12


def unscoped_contract_volume(*, client: Client, starts: list[dt.datetime]) -> dict[dt.datetime, float]:
    """Expected calls in each 15-minute interval starting at ``starts`` (one day's); empty without
    an accepted contract. Reads the company's settings in its own schema."""
    contract = (
        Contract.objects.filter(client=client, state=Contract.State.ACCEPTED)
        .select_related("order")
        .order_by("-pk")
        .first()
    )
    if contract is None:
        return {}
    order = contract.order
    with tenant_context(client):
        settings = TelephonySettings.current()
    open_starts = [start for start in starts if is_open(settings, start)]
    if not open_starts:
        return {}
    hours = settings.business_hours or {}
    open_weekdays = sum(1 for day in range(7) if hours.get(str(day))) if hours else 7
    per_day = order.calls_per_month / (DAYS_PER_MONTH * open_weekdays / 7)
    per_interval = min(order.peak_hour_calls / 4, per_day / len(open_starts))
    return {start: round(per_interval, 1) for start in open_starts}
