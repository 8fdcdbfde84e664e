"""The seam between the router and the Twilio side: an accepted call must be bridged to its operator.

``routing.accept`` calls ``bridge_accepted`` on commit; the Celery task does the REST update
(``telephony.gateway``, the webhooks' side).
"""

from __future__ import annotations


def bridge_accepted(waiting_call_id: int) -> None:
    """Ask a worker to take the call out of the Twilio queue and connect it to its operator."""
    from telephony.tasks import bridge_call

    bridge_call.delay(waiting_call_id)
