"""Hand-built call records for the reporting tests (written in the current schema)."""

from __future__ import annotations

import datetime as dt
import itertools

from reporting.kpis import CallFacts
from telephony.calls.models import Call

_sids = itertools.count(1)


def make_call(started_at: dt.datetime, **fields: object) -> Call:
    """A finished call; ``outcome`` gets its time, the sid is unique."""
    fields.setdefault("direction", Call.Direction.INBOUND)
    if fields.get("outcome"):
        fields.setdefault("outcome_at", started_at + dt.timedelta(minutes=1))
    return Call.objects.create(
        call_sid=f"CA{next(_sids):032d}",
        from_number="+15550100100",
        to_number="+15550199001",
        started_at=started_at,
        **fields,
    )


def facts(call: Call) -> CallFacts:
    """The same call as the pure definitions see it."""
    return CallFacts(
        started_at=call.started_at,
        direction=call.direction,
        queued=call.queued_at is not None,
        answered=call.queued_at is not None and call.answered_at is not None,
        outcome=call.outcome,
        wait_seconds=call.wait_seconds,
        talk_seconds=call.talk_seconds,
        hold_seconds=call.hold_seconds,
        wrapup_seconds=call.wrapup_seconds,
        ivr_entered=call.ivr_started_at is not None,
        transferred=bool(call.transferred_to),
        disposition=call.disposition,
    )
