"""What telephony announces to the apps above it (outbound, reporting, the console).

Telephony imports none of them: each connects its receivers in its ``AppConfig.ready()``. Every
signal is sent once the transaction that made the change commits, in the client company's schema
where the change happened (``tenant`` is None for platform-wide changes).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.dispatch import Signal

from tenants.switching import company_context

log = logging.getLogger(__name__)

# A call got its one outcome: ``call_id``, ``call_sid`` (tenant schema).
call_completed = Signal()
# An operator became available (``operators.transition``): ``operator_id``, ``now``. The router serves
# them inbound calls first (``routing.presence.serve_freed_operator``), then announces:
operator_available = Signal()
# An operator is free for other work: no inbound call was offered to them. ``operator_id``.
operator_freed = Signal()
# An operator's consoles all went away before they dialled the outbound call reserved for them (a
# preview); they were set offline: ``call_id`` (tenant schema), ``operator_id``. Outbound gives the
# work back to its campaign (or callback list).
orphaned_before_dial = Signal()
# The reconciliation found an outbound call over at Twilio whose final status callback was lost:
# ``call_id`` (tenant schema), ``params`` (``records.TwilioCallParams`` with Twilio's status and
# duration), ``ended_at``. Outbound finishes it as that callback would have: outcome, the campaign
# attempt's or callback's result, the operator freed.
outbound_call_reconciled = Signal()
# A callback was booked for a caller (tenant schema): ``callback_id``, ``queue_id`` (None: the
# company's default queue), ``due_at``. Outbound notes the queue in the dialer's index.
callback_booked = Signal()


@dataclass(frozen=True)
class DialRefusal:
    """Why a number may not be dialled now; ``retry_at`` the first time it may (None: never)."""

    reason: str
    retry_at: dt.datetime | None = None


# Asked (not announced: sent at once, in the company's schema) before a callback that kept the
# caller's place is dialled: ``phone``, ``asked_at`` (when the caller asked for it), ``now``. Each
# receiver answers a ``DialRefusal`` or None; outbound checks its do-not-call lists and the calling
# hours (``callback_dial.refusal`` takes the first refusal).
callback_dial_check = Signal()


def announce_on_commit(signal: Signal, **kwargs: Any) -> None:
    """Send ``signal`` with ``kwargs`` after the current transaction commits, in the schema it was
    made in; a receiver's failure is logged, never raised into the change (``send_robust``)."""
    tenant = connection.tenant if connection.schema_name != "public" else None

    def send() -> None:
        if tenant is None:
            results = signal.send_robust(sender=None, **kwargs)
        else:
            with company_context(tenant):  # no switch when the commit ran in that schema
                results = signal.send_robust(sender=None, tenant=tenant, **kwargs)
        for receiver, result in results:
            if isinstance(result, Exception):
                log.error("%s failed on %s", receiver, kwargs, exc_info=result)

    transaction.on_commit(send)
