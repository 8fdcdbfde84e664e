"""Outbound calls whose final status callback was lost (issue 22).

Telephony's reconciliation asks Twilio about a placed call that has not moved for too long; when
Twilio says it is over it announces ``events.outbound_call_reconciled`` (in the call's company's
schema) and here the call is finished exactly as its status callback would have finished it
(``progress.status``): the outcome and times, the campaign attempt's result (retry rules) or the
callback's, the operator freed (at once when nobody was connected, to wrap-up after a talk).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from outbound import progress
from telephony.calls.models import Call
from telephony.calls.records import TwilioCallParams


def on_outbound_call_reconciled(
    *, call_id: int, params: TwilioCallParams, ended_at: dt.datetime, **kwargs: Any
) -> bool:
    """Play the lost final status callback (idempotent: a call ended meanwhile is left as it is)."""
    call = Call.objects.filter(pk=call_id, direction=Call.Direction.OUTBOUND).first()
    if call is None or call.ended_at is not None or call.call_sid != params.call_sid:
        return False
    progress.status(call=call, params=params, now=ended_at)
    return True
