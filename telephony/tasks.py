"""Celery entry points of telephony: thin, idempotent, taking ids.

The router's run in the public schema; ``store_recording`` in the call's client company's schema.
"""

from __future__ import annotations

from config.celery import app, tenant_task
from telephony.recordings import RecordingNotReady


@app.task(acks_late=True, ignore_result=True)
def routing_tick() -> int:
    """Run by beat every 2 s: expire unanswered offers, then match (overflow timers open tiers)."""
    from telephony import routing

    routing.expire_reservations()
    return len(routing.match())


@app.task(acks_late=True, ignore_result=True)
def match_queues(queue_ids: list[int]) -> int:
    """Match the waiting calls of these queues (e.g. after their settings or skills changed)."""
    from telephony import routing

    return len(routing.match(queue_ids=queue_ids))


@app.task(acks_late=True, ignore_result=True, autoretry_for=(ConnectionError,), retry_backoff=True)
def bridge_call(waiting_call_id: int) -> bool:
    """Connect an accepted call to its operator: call record first, then Twilio's REST update."""
    from telephony.calls.bridging import bridge

    return bridge(waiting_call_id=waiting_call_id)


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
    from telephony import recordings

    return recordings.store_recording(call_id=call_id)
