"""Celery entry points for client companies' life: thin, idempotent."""

from __future__ import annotations

from config.celery import app
from tenants.closing import exports_purge_due
from tenants.lifecycle import numbers_release_due


@app.task(acks_late=True)
def release_numbers() -> list[str]:
    """Return numbers whose grace period ended to the pool (run by beat, e.g. hourly)."""
    return numbers_release_due()


@app.task(acks_late=True)
def purge_exports() -> list[int]:
    """Delete closed companies' exports kept past their notice period (run by beat, e.g. daily)."""
    return exports_purge_due()
