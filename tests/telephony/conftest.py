"""Telephony fixtures: a number of the pool assigned to the standing tenant alpha."""

from __future__ import annotations

import pytest

from telephony.models import PhoneNumber


@pytest.fixture
def alpha_number(db, tenants) -> str:
    number, _ = PhoneNumber.objects.get_or_create(
        number="+15550199001", defaults={"tenant": tenants.alpha, "state": PhoneNumber.State.ASSIGNED}
    )
    return number.number


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run what the router does on commit (matching, pushes) at the end of the block."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
