"""Celery entry points of the router: thin, idempotent, taking ids (they run in the public schema)."""

from __future__ import annotations

from config.celery import app


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
