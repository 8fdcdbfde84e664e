"""An outbound call record: what task it is for, and whether Twilio has placed it yet."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from telephony.calls.callback_tries import MAX_TRIES, RETRY_AFTER
from telephony.calls.models import Call, CallEvent
from telephony.models import WaitingCall

PLACEHOLDER = "pending-"  # + a uuid: the call's unique id until Twilio gives its CallSid
# The callback rules, one definition with the callbacks that keep the caller's place.
CALLBACK_MAX_ATTEMPTS = MAX_TRIES
CALLBACK_RETRY = RETRY_AFTER


def task_of(call: Call) -> dict[str, Any] | None:
    """The outbound task of a call record (``campaign`` or ``callback``), None for an inbound call."""
    data = CallEvent.objects.filter(call=call, kind="outbound_task").values_list("data", flat=True).first()
    return dict(data) if data is not None else None


def is_pending(call: Call) -> bool:
    """Not placed yet: a preview waiting for the operator, or a progressive call about to be placed."""
    return call.direction == Call.Direction.OUTBOUND and call.placed_at is None


def set_sid(*, pending: str, call_sid: str, now: dt.datetime | None = None) -> None:
    """Give the call record and the router's row Twilio's CallSid: the call is placed (idempotent)."""
    if not call_sid:
        return
    with transaction.atomic():  # readers see both or neither (``console.call_for`` reads twice)
        placed = Call.objects.filter(call_sid=pending, placed_at=None).update(
            call_sid=call_sid, placed_at=now or timezone.now()
        )
        if placed:
            WaitingCall.objects.filter(call_sid=pending).update(call_sid=call_sid)
