"""Celery entry points of telephony: thin, idempotent, taking ids.

The router's run in the public schema; ``store_recording`` in the call's client company's schema.
Nothing in telephony's domain modules imports this one: whoever enqueues a task sits above them
(``webhooks``, ``calls.answering``).
"""

from __future__ import annotations

from config.celery import app, tenant_task
from telephony import reconcile, recordings, routing
from telephony.calls import bridging
from telephony.recordings import RecordingNotReady


@app.task(acks_late=True, ignore_result=True)
def routing_tick() -> int:
    """Run by beat every 2 s: expire unanswered offers, then match (overflow timers open tiers)."""
    routing.expire_reservations()
    return len(routing.match())


@app.task(acks_late=True, ignore_result=True)
def match_queues(queue_ids: list[int]) -> int:
    """Match the waiting calls of these queues (e.g. after their settings or skills changed)."""
    return len(routing.match(queue_ids=queue_ids))


@app.task(acks_late=True, ignore_result=True, autoretry_for=(ConnectionError,), retry_backoff=True)
def bridge_call(waiting_call_id: int) -> bool:
    """Connect an accepted call to its operator: call record first, then Twilio's REST update."""
    delivered = bridging.bridge(waiting_call_id=waiting_call_id)
    if not delivered:  # the caller gone: never recorded answered, finished now (issue 22)
        reconcile.after_refused_bridge(waiting_call_id=waiting_call_id)
    return delivered


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
