"""A client company's telephony follows its order: hours, time zone, language, recording."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from telephony.calls.models import TelephonySettings
from telephony.calls.setup import parse_hours, settings_from_order


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mon-Fri 08:00-18:00", {**{str(d): [["08:00", "18:00"]] for d in range(5)}, "5": [], "6": []}),
        (
            "Mon-Fri 8:00-18:00; Sat 09:00-13:00",
            {**{str(d): [["08:00", "18:00"]] for d in range(5)}, "5": [["09:00", "13:00"]], "6": []},
        ),
        (
            "Fri-Mon 20:00-24:00",
            {
                "0": [["20:00", "24:00"]],
                "1": [],
                "2": [],
                "3": [],
                "4": [["20:00", "24:00"]],
                "5": [["20:00", "24:00"]],
                "6": [["20:00", "24:00"]],
            },
        ),
        ("whenever you like", {}),
        ("Mon 18:00-08:00", {}),  # a backwards range is not guessed at: open 24/7 rather than closed
    ],
)
def test_coverage_hours_are_read_from_the_order(text, expected):
    assert parse_hours(text) == expected


def test_settings_follow_the_order_in_the_tenants_schema(db, tenants):
    with tenant_context(tenants.alpha):
        settings_from_order(
            time_zone="Europe/Berlin",
            business_hours_only=True,
            coverage_hours="Mon-Fri 09:00-17:00",
            languages=["de", "en"],
            recording=True,
        )
        settings = TelephonySettings.current()
        assert (settings.timezone, settings.language, settings.record_calls) == (
            "Europe/Berlin",
            "de-DE",
            True,
        )
        assert settings.business_hours["0"] == [["09:00", "17:00"]] and settings.business_hours["6"] == []
    with tenant_context(tenants.beta):
        assert TelephonySettings.current().record_calls is False


def test_provisioning_applies_the_order_to_telephony(db, tenants):
    from django.core.management import call_command

    from tenants.models import Client

    call_command("demo", verbosity=0)
    acme = Client.objects.get(slug="acme")
    with tenant_context(acme):
        settings = TelephonySettings.current()
        assert settings.timezone == acme.order.time_zone
        assert settings.record_calls == acme.order.services.filter(kind="recording").exists()
