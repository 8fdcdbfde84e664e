"""Celery entry points of the dialer: thin, idempotent, taking ids (platform tasks, public schema)."""

from __future__ import annotations

from config.celery import app


@app.task(acks_late=True, ignore_result=True)
def dial_tick() -> int:
    """Run by beat every 2 s: previews left too long go back, then free operators get work."""
    from outbound import dialer

    dialer.release_stale_previews()
    return len(dialer.unscoped_dial_pass())


@app.task(acks_late=True, ignore_result=True)
def dial_for_operators(operator_ids: list[int]) -> int:
    """Operators just became available: outbound work for them (inbound was offered first)."""
    from outbound import dialer

    return len(dialer.unscoped_dial_pass(operator_ids=operator_ids))
