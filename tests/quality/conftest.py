"""Quality fixtures: recordings stored in a temporary media folder, fetched from a local server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection

from accounts.models import Role
from tests.conftest import logged_in, make_user
from tests.quality.kit import MediaServer, media_server


@pytest.fixture
def supervisor(db, tenants):
    """A supervisor logged in on the platform host (the test's connection back in the public schema)."""
    connection.set_schema_to_public()
    return logged_in(None, make_user(None, role=Role.SUPERVISOR, first_name="Sue", last_name="Visor"))


@pytest.fixture
def media(settings, tmp_path) -> Iterator[MediaServer]:
    """Twilio's recording media played by a local HTTP server; files land under ``tmp_path``."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    with media_server() as server:
        settings.TWILIO_API_BASE_URL = server.url
        yield server


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Celery's own eager mode: ``delay()`` runs the task here, with the sender's schema header."""
    from config.celery import app

    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False
