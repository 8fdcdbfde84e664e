from collections.abc import Iterator

import pytest

from config.celery import app


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Celery's own eager mode: ``delay()`` runs the task here."""
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False
