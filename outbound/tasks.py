"""Celery entry points of the dialer: thin, idempotent, taking ids (platform tasks, public schema)."""

from __future__ import annotations

import logging
from typing import Any

from config.celery import app
from config.single_flight import single_flight
from outbound import dialer, work

# The dialer's tick runs every 2 s; one still running after this long is presumed dead.
TICK_LOCK_SECONDS = 30

log = logging.getLogger(__name__)


@app.task(acks_late=True, ignore_result=True)
def dial_tick() -> int:
    """Run by beat every 2 s: previews left too long go back, then free operators get work (in the
    companies the dialer's index names). Never two at once: a tick finding another running skips."""
    with single_flight("dial-tick", timeout=TICK_LOCK_SECONDS) as mine:
        if not mine:
            return 0
        dialer.release_stale_previews()
        return len(dialer.unscoped_dial_pass())


@app.task(acks_late=True, ignore_result=True)
def dial_for_operators(operator_ids: list[int]) -> int:
    """Operators just became available: outbound work for them (inbound was offered first)."""
    return len(dialer.unscoped_dial_pass(operator_ids=operator_ids))


def on_operator_freed(*, operator_id: int, **kwargs: Any) -> None:
    """``telephony.events.operator_freed``: no inbound call was offered to them, so look for
    outbound work, when the dialer's index has some due in their queues (no task otherwise: work
    announced later is found by the periodic tick). A broker or database outage must not break
    the operator's state change: it is logged, and the dialer's periodic tick finds the operator."""
    try:
        if work.due_for_operator(operator_id):
            dial_for_operators.delay([operator_id])
    except Exception:
        log.exception("could not ask the dialer for work for operator %s", operator_id)
