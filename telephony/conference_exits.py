"""A caller waiting in their call's conference is not left there: the max-wait exit (issue 16).

After a failed bridge (``routing.bridge_failed``) the caller stays in the conference ``call-<sid>``
with music while the call is back in line. Twilio's queue no longer times them out (its wait URL
is not called in a conference), so ``routing_tick`` looks here: a call in line whose caller is in
the conference and that has waited the queue's ``max_wait`` since it was put in line, or whose
queue has nobody staffed any more (``routing.staffed_queues``: the call flow's own definition),
is moved out by REST with the TwiML a caller leaving Twilio's queue gets (the callback or
voicemail offer); the caller's leg leaving ends the conference (``endConferenceOnExit``).
An offer ringing meanwhile is closed, as when a queued caller leaves.

Idempotent: the call leaves the line in the transaction that moved the caller, so it is moved once.
Twilio's answers as ``telephony.conferences`` treats them: 429/5xx/timeouts leave the call in line
for the next tick to try again; 404/"call gone" ends the call as abandoned; another 4xx is logged
with Twilio's code (by ``gateway``), recorded once, and the caller stays in line, still served.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from telephony import conferences, gateway, routing, twiml
from telephony.calls.company import call_setup
from telephony.calls.flows import voice_of
from telephony.calls.models import Call
from telephony.calls.records import add_event
from telephony.routing_models import Reservation, WaitingCall

log = logging.getLogger(__name__)
IN_LINE = (WaitingCall.State.WAITING, WaitingCall.State.RESERVED)
MAX_WAIT, NOBODY_STAFFED = "max wait", "nobody staffed"


def overdue(*, now: dt.datetime) -> list[tuple[int, str]]:
    """Calls in line after a failed bridge that must leave now: ``(waiting call id, reason)``.

    Only calls whose operator's leg once failed can have a caller in the conference (the caller
    is checked in the company's schema by ``move_out``)."""
    rows = list(
        WaitingCall.objects.filter(
            state__in=IN_LINE,
            direction=WaitingCall.Direction.INBOUND,
            # A person called back waits for the next operator (their try ends when they hang up).
            kind=WaitingCall.Kind.CALL,
            reservations__state=Reservation.State.EXPIRED,
            reservations__reason__startswith="leg ",
        )
        .distinct()
        .values_list("pk", "queue_id", "enqueued_at", "queue__max_wait")
    )
    if not rows:
        return []
    staffed = routing.staffed_queues({row[1] for row in rows})
    due = []
    for pk, queue_id, enqueued_at, max_wait in rows:
        if queue_id not in staffed:
            due.append((pk, NOBODY_STAFFED))
        elif now - enqueued_at >= dt.timedelta(seconds=max_wait):
            due.append((pk, MAX_WAIT))
    return due


def move_out_overdue(*, now: dt.datetime | None = None) -> int:
    """Move out every caller due to leave their conference (run by ``routing_tick``); how many."""
    now = now or timezone.now()
    moved = 0
    for waiting_call_id, reason in overdue(now=now):
        try:
            moved += move_out(waiting_call_id=waiting_call_id, reason=reason, now=now)
        except gateway.TwilioUnavailable as exc:
            log.warning(
                "caller of waiting call %s not moved out of the conference yet: %s", waiting_call_id, exc
            )
    return moved


def move_out(*, waiting_call_id: int, reason: str, now: dt.datetime | None = None) -> bool:
    """Offer this caller a callback or voicemail, out of their conference; True when moved.

    Raises ``gateway.TwilioUnavailable`` (nothing written: the next tick tries again)."""
    now = now or timezone.now()
    waiting = WaitingCall.objects.select_related("tenant").filter(pk=waiting_call_id).first()
    if waiting is None or waiting.state not in IN_LINE:
        return False
    with tenant_context(waiting.tenant), transaction.atomic():
        call = Call.objects.select_for_update(skip_locked=True).filter(call_sid=waiting.call_sid).first()
        if call is None or call.ended_at is not None or call.outcome or call.answered_at is not None:
            return False
        if not conferences.caller_in_conference(call) or conferences.has_event(
            call, "conference_exit_refused"
        ):
            return False  # still in Twilio's queue (its wait URL times them out), or Twilio refused
        locked = WaitingCall.objects.select_for_update(skip_locked=True).filter(pk=waiting_call_id).first()
        if locked is None or locked.state not in IN_LINE:
            return False  # being accepted right now, or left meanwhile
        offer = twiml.leave_options(
            voice=voice_of(call_setup().settings), action=gateway.absolute(twiml.url("twilio-leave-choice"))
        )
        answer = gateway.update_call(call_sid=call.call_sid, twiml_text=str(offer))
        if answer is gateway.Answer.GONE:
            conferences.caller_gone(call=call, reason="gone before leaving the conference", now=now)
            return False
        if answer is gateway.Answer.REFUSED:
            add_event(
                call, "conference_exit_refused", dedupe="conference_exit_refused", at=now, reason=reason
            )
            return False
        waited = round((now - locked.enqueued_at).total_seconds())
        add_event(call, "conference_exit", dedupe="conference_exit", at=now, reason=reason, waited=waited)
        routing.leave(call_sid=call.call_sid, outcome="left", now=now)
    log.info("call %s: caller moved out of the conference to the callback/voicemail offer (%s)",
             call.call_sid, reason)  # fmt: skip
    return True
