"""Celery entry points of telephony: thin, idempotent, taking ids.

The router's run in the public schema; ``store_recording`` in the call's client company's schema.
Nothing in telephony's domain modules imports this one: whoever enqueues a task sits above them
(``webhooks``, ``calls.answering``).
"""

from __future__ import annotations

import random

from config.celery import app, tenant_task
from config.single_flight import single_flight
from telephony import conference_exits, conferences, recordings, routing
from telephony.gateway import TwilioUnavailable
from telephony.recordings import RecordingNotReady

BRIDGE_RETRIES = 5  # about 15 s of backoff in all: the caller is listening to music meanwhile
TICK_LOCK_SECONDS = 30  # a routing tick still running after this long is presumed dead


@app.task(acks_late=True, ignore_result=True)
def routing_tick() -> int:
    """Run by beat every 2 s: expire unanswered offers, move out of their conference the callers
    past the queue's maximum wait (or with nobody staffed), then match (overflow timers open tiers).
    Never two at once: a tick finding another running skips."""
    with single_flight("routing-tick", timeout=TICK_LOCK_SECONDS) as mine:
        if not mine:
            return 0
        routing.expire_reservations()
        conference_exits.move_out_overdue()
        return len(routing.match())


@app.task(acks_late=True, ignore_result=True)
def match_queues(queue_ids: list[int]) -> int:
    """Match the waiting calls of these queues (e.g. after their settings or skills changed)."""
    return len(routing.match(queue_ids=queue_ids))


def bridge_backoff(retries: int) -> float:
    """Seconds before the next try: 0.5, 1, 2, 4, 8 (jittered by up to a quarter)."""
    delay = min(8.0, 0.5 * 2**retries)
    return delay * random.uniform(0.75, 1.0)


@app.task(bind=True, acks_late=True, ignore_result=True, max_retries=BRIDGE_RETRIES)
def bridge_call(self, waiting_call_id: int) -> bool:
    """Connect an accepted call through its conference (idempotent: each step is done once).

    Twilio's 429, 5xx and timeouts are retried with backoff; past the last retry the attempt
    fails and the caller goes back in line (another operator first)."""
    try:
        return conferences.bridge(waiting_call_id=waiting_call_id)
    except TwilioUnavailable as exc:
        if self.request.retries >= self.max_retries:
            conferences.give_up(waiting_call_id=waiting_call_id, reason="Twilio unavailable")
            return False
        raise self.retry(exc=exc, countdown=bridge_backoff(self.request.retries)) from exc


@tenant_task(
    bind=True,
    acks_late=True,
    ignore_result=True,
    max_retries=8,
    autoretry_for=(RecordingNotReady,),
    retry_backoff=15,
    retry_backoff_max=1800,
)
def store_recording(self, call_id: int) -> str:
    """Fetch a finished call recording into the tenant's storage (retried while Twilio can't serve it)."""
    return recordings.store_recording(call_id=call_id)
