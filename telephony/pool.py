"""The platform's pool of phone numbers (R7)."""

from __future__ import annotations

from telephony.models import PhoneNumber


def pool_add(*, numbers: list[str], label: str = "") -> int:
    """Add E.164 numbers to the pool as available; numbers already known are left alone."""
    rows = [PhoneNumber(number=n, label=label) for n in numbers]
    for row in rows:
        row.full_clean(validate_unique=False)
    created = PhoneNumber.objects.bulk_create(rows, ignore_conflicts=True)
    return len(created)


def fake_numbers(*, area: str = "202", count: int = 20) -> list[str]:
    """Fictional US numbers of the 555-0100…0199 block, reserved for fiction: ``+12025550100`` …"""
    if not 1 <= count <= 100:
        raise ValueError("The 555-01xx block has 100 numbers per area code.")
    return [f"+1{area}55501{i:02d}" for i in range(count)]
