"""Small display helpers of the campaign pages."""

from __future__ import annotations

from django import template

from outbound.models import Attempt, CampaignContact

register = template.Library()


@register.filter
def percent(value: float | None) -> str:
    """0.4567 → "45.7 %"; nothing to divide by → "—"."""
    if value is None:
        return "—"
    return f"{value * 100:.1f} %"


@register.filter
def get_item(mapping: dict, key: object) -> object:
    return mapping.get(key) if isinstance(mapping, dict) else None


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@register.filter
def weekday_names(days: list[int]) -> str:
    """[0, 1, 4] → "Mon, Tue, Fri"."""
    return ", ".join(_DAYS[d] for d in sorted(days or []) if 0 <= d < 7)


@register.filter
def outcome_label(code: str) -> str:
    return dict(Attempt.Outcome.choices).get(code, code)


@register.filter
def contact_state_label(code: str) -> str:
    return dict(CampaignContact.State.choices).get(code, code)
