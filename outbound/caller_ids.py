"""The caller ID of an outbound call, checked again at the moment of dialing.

A number may move to another company, or be released, while a campaign runs or a callback waits:
it is never shown to a callee again.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import connection

from outbound.models import Campaign
from telephony.calls.models import Call
from telephony.calls.records import add_event
from telephony.models import PhoneNumber
from tenants.models import Client

log = logging.getLogger(__name__)


def caller_id_refusal(task: dict[str, Any], call: Call, now: dt.datetime) -> str | None:
    """The caller ID checked again at the moment of dialing: a number moved to another company,
    or released, is never shown. A campaign is paused with the reason (its page shows it); a
    callback is shown from another number of the company when it has one."""
    tenant = connection.tenant
    if _our_number(tenant, call.from_number):
        return None
    if task.get("task") == "campaign":
        reason = (
            f"Paused: the caller ID {call.from_number} is no longer a number of this company. "
            "Choose another caller ID, then resume."
        )
        paused = Campaign.objects.filter(pk=task["campaign"], state=Campaign.State.RUNNING).update(
            state=Campaign.State.PAUSED, paused_at=now, pause_reason=reason, updated_at=now
        )
        if paused:
            log.warning(
                "campaign %s of %s paused: caller ID %s not ours", task["campaign"], tenant, call.from_number
            )
        return reason
    other = (
        PhoneNumber.objects.filter(tenant_id=tenant.pk, state=PhoneNumber.State.ASSIGNED)
        .order_by("number")
        .values_list("number", flat=True)
        .first()
    )
    if other is None:
        return "This company has no number of its own to call from."
    add_event(call, "caller_id_changed", dedupe="caller_id_changed", at=now, was=call.from_number, now=other)
    Call.objects.filter(pk=call.pk).update(from_number=other)
    call.from_number = other
    return None


def _our_number(tenant: Client, number: str) -> bool:
    return PhoneNumber.objects.filter(
        number=number, tenant_id=tenant.pk, state=PhoneNumber.State.ASSIGNED
    ).exists()
