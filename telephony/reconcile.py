"""Reconciliation with Twilio, the source of truth (issue 22): what a lost callback left behind."""

from __future__ import annotations

from django.utils import timezone

from telephony import routing


def run() -> int:
    """One pass: overdue offers expired (no worker may have run the tick)."""
    return routing.expire_reservations(now=timezone.now())
