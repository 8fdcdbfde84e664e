"""The seam between the router and the Twilio side: an accepted call must be bridged to its operator.

``routing.accept`` calls ``bridge_accepted`` on commit: the answer is recorded at once, and the
Celery task does the REST update (``telephony.gateway``, the webhooks' side).
"""

from __future__ import annotations


def bridge_accepted(waiting_call_id: int) -> None:
    """Record the answer in the tenant's call record now, then ask a worker to take the call out
    of the Twilio queue and connect it to its operator (a REST request: not in the accept)."""
    from telephony.calls.bridging import record_answer
    from telephony.tasks import bridge_call

    record_answer(waiting_call_id=waiting_call_id)
    bridge_call.delay(waiting_call_id)
