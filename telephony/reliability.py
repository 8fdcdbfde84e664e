"""Celery entry points of issue 22 (thin; scheduled by ``CELERY_BEAT_SCHEDULE`` with an expiry):
the consoles' presence sweep and the reconciliation with Twilio. Both run in the public schema."""

from __future__ import annotations

from config.celery import app
from telephony import console_presence, reconcile


@app.task(acks_late=True, ignore_result=True)
def sweep_presence() -> int:
    """Every 5 s: operators with no live console go offline (their offers re-routed)."""
    return len(console_presence.sweep())


@app.task(acks_late=True, ignore_result=True)
def reconcile_calls() -> int:
    """Every minute: overdue offers expired; calls stuck in a state asked of Twilio and finished."""
    return reconcile.run()
