"""What telephony announces to the apps above it (outbound, reporting, the console).

Telephony imports none of them: each connects its receivers in its ``AppConfig.ready()``. Every
signal is sent once the transaction that made the change commits, in the client company's schema
where the change happened (``tenant`` is None for platform-wide changes).
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.dispatch import Signal
from django_tenants.utils import tenant_context

# A call got its one outcome: ``call_id``, ``call_sid`` (tenant schema).
call_completed = Signal()
# An operator became free for work (available): ``operator_id`` (public schema).
operator_freed = Signal()


def announce_on_commit(signal: Signal, **kwargs: Any) -> None:
    """Send ``signal`` with ``kwargs`` after the current transaction commits, in the schema it was
    made in; a receiver's failure is logged, never raised into the change (``send_robust``)."""
    tenant = connection.tenant if connection.schema_name != "public" else None

    def send() -> None:
        if tenant is None:
            signal.send_robust(sender=None, **kwargs)
            return
        with tenant_context(tenant):
            signal.send_robust(sender=None, tenant=tenant, **kwargs)

    transaction.on_commit(send)
