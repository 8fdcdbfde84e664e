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


@app.task(acks_late=True, ignore_result=True)
def bridge_call(waiting_call_id: int) -> None:
    """Connect an accepted call to its operator.

    For now this only records the request as an operator event; the Twilio REST update (dequeue
    the caller into the operator's client) belongs to ``telephony.gateway``.
    """
    from django.utils import timezone

    from telephony.models import WaitingCall
    from telephony.operators import record

    call = WaitingCall.objects.filter(pk=waiting_call_id, operator__isnull=False).first()
    if call is None:
        return
    record(operator_id=call.operator_id, kind="bridge_requested", call_sid=call.call_sid,
           tenant_id=call.tenant_id, now=timezone.now())  # fmt: skip
