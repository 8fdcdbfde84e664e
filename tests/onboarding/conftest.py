"""Onboarding fixtures."""

from __future__ import annotations

import pytest
from django.db import connection


@pytest.fixture
def on_test_database(committed) -> None:
    """Refuse to commit into a real database.

    pytest-django creates the test database only when a collected test asks for ``db``;
    a session made only of ``committed`` tests would otherwise write into the development one.
    """
    name = connection.settings_dict["NAME"]
    if not name.startswith("test_"):
        pytest.fail(f"refusing to commit into {name!r}: run this test together with a `db` test")
