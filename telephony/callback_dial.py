"""Calling back a caller who kept their place (R13), when the callback's turn comes.

An operator accepts the callback like a call (offer, screen pop, script). Then the platform dials
the caller (``calls.create`` through the gateway: 429, 5xx and timeouts retried by the task with
backoff; a create Twilio did not answer, or whose worker died before recording it, may have been
placed, so each ask is recorded first and before another one Twilio is
asked for a call to that number since then: never two calls ringing the same person); when they
pick up they hear who calls and enter the call's conference, named for the try's CallSid, exactly
as a caller moved out of the queue, and the operator's leg is added (``conferences.bridge``): hold,
mute, transfer and recording work as on any call. The try is answered when the operator joins.

A try that reaches nobody (no answer, busy, failed, Twilio refused it, or the person hung up
before the operator joined) frees the operator at once (not their miss) and, by the callback
rules (``callback_tries.MAX_TRIES`` tries, ``RETRY_AFTER`` apart), the callback waits for its next
try at the same place in line (``routing.callbacks.defer``), or is given up. The outcome is
recorded on the callback (its lists), on each try, and on the caller's original call.

Every function is safe to run twice and in any order (Twilio retries and reorders callbacks).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import tenant_context
from twilio.twiml.voice_response import VoiceResponse

from config.queries import one
from telephony import conferences, events, gateway, routing, twiml
from telephony.calls.callback_tries import MAX_TRIES, RETRY_AFTER, callback_of, new_try, settle_refusal
from telephony.calls.company import settings_now
from telephony.calls.flows import conference_callbacks
from telephony.calls.models import Call, Callback, CallEvent, TelephonySettings
from telephony.calls.records import (
    STATUS_RANK,
    TwilioCallParams,
    add_event,
    caller_in_conference,
    note_caller_in_conference,
    record_status,
    set_outcome,
)
from telephony.events import announce_on_commit
from telephony.pushes import push_on_commit
from telephony.routing import callbacks as kept
from telephony.routing_models import WaitingCall

log = logging.getLogger(__name__)
RING_SECONDS = 25


def _voice() -> twiml.Voice:
    return twiml.Voice.of(TelephonySettings.current())


def dial(*, waiting_call_id: int) -> bool:
    """The operator accepted the callback: dial the caller (once per try). True when it rings.

    A try already placed is left to its answer, except when its person waits in the conference
    after an operator's leg failed: then this operator's leg is added as for any call.
    Raises ``gateway.TwilioUnavailable`` for the task to retry."""
    attempt = conferences.current_attempt(waiting_call_id)
    if attempt is None or attempt.waiting.kind != WaitingCall.Kind.CALLBACK:
        return False
    waiting = attempt.waiting
    with tenant_context(waiting.tenant):
        call = one(Call.objects.filter(call_sid=waiting.call_sid))
        if call is None or call.ended_at is not None or call.outcome:
            return False
        if call.placed_at is not None:
            return conferences.bridge(waiting_call_id=waiting_call_id) if caller_in_conference(call) else True
        if _found_at_twilio(call):  # an earlier ask may have placed it (answer lost, worker died)
            return True
        callback = callback_of(call)
        refused = refusal(phone=call.to_number, asked_at=callback.created_at) if callback else None
        if refused is not None:
            not_now(call=call, refusal=refused)
            return False
        asked = timezone.now()  # recorded (committed) before asking: a redelivered task looks it up
        ask = CallEvent.objects.create(call=call, at=asked, kind="dial_asked", data={"to": call.to_number})
        try:
            answer, call_sid = gateway.place_call(
                to=call.to_number,
                from_=call.from_number,
                url=gateway.absolute(twiml.url("twilio-callback-answer", c=call.pk)),
                status_callback=gateway.absolute(twiml.url("twilio-callback-status", c=call.pk)),
                timeout=RING_SECONDS,
            )
        except gateway.TwilioNoAnswer as exc:  # maybe ringing: looked up before any new create
            add_event(call, "dial_unanswered", at=asked, reason=str(exc))
            raise
        except gateway.TwilioUnavailable as exc:  # 429, 5xx, never sent: this ask placed nothing
            CallEvent.objects.filter(pk=ask.pk).update(data={**ask.data, "unplaced": str(exc)})
            raise
        if answer is gateway.Answer.DONE and call_sid:
            placed(call=call, call_sid=call_sid)
            return True
        tried(call=call, status="failed", reason=f"Twilio refused the call ({answer.value})")
    return False


def refusal(
    *, phone: str, asked_at: dt.datetime, now: dt.datetime | None = None
) -> events.DialRefusal | None:
    """Why this person may not be called back now (the first receiver of ``callback_dial_check``
    to refuse: outbound's do-not-call lists and calling hours), or None."""
    now = now or timezone.now()
    for _, answer in events.callback_dial_check.send(sender=None, phone=phone, asked_at=asked_at, now=now):
        if answer is not None:
            return answer
    return None


def not_now(*, call: Call, refusal: events.DialRefusal, now: dt.datetime | None = None) -> bool:
    """The try may not ring now (nothing was dialled; its operator is freed, not their miss): it
    waits at its place until ``refusal.retry_at`` (not counted as a try), or, when never, the
    callback is given up. Why is recorded on the caller's original call. False when already over."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = one(Call.objects.select_for_update().filter(pk=call.pk))
        if locked is None:
            return False
        callback = callback_of(locked, lock=True)
        if locked.outcome or locked.placed_at is not None or callback is None:
            return False
        if refusal.retry_at is None:
            set_outcome(locked, Call.Outcome.FAILED, at=now, reason=refusal.reason)
            Call.objects.filter(pk=call.pk, wrapup_ended_at=None).update(wrapup_ended_at=now)
            freed = routing.leave_unconnected(call_sid=locked.call_sid, reason="do-not-call", now=now)
            add_event(locked, "callback_result", dedupe="callback_result", at=now, outcome="do-not-call",
                      state=Callback.State.CANCELLED)  # fmt: skip
        else:
            freed = kept.defer(call_sid=locked.call_sid, next_sid=locked.call_sid, due_at=refusal.retry_at,
                               reason=refusal.reason, now=now)  # fmt: skip
        settle_refusal(callback=callback, refusal=refusal, waits_in=Callback.State.IN_LINE, now=now)
        _tell(freed, refusal.reason)
    log.info("callback try %s not dialled: %s", call.pk, refusal.reason)
    return True


def hand_over_unstaffed(*, now: dt.datetime | None = None) -> int:
    """Hand every callback waiting in vain (``routing.callbacks.unstaffed_overdue``) over to the
    company's callback list (run by ``routing_tick``); how many."""
    now = now or timezone.now()
    handed = 0
    for waiting in WaitingCall.objects.filter(pk__in=kept.unstaffed_overdue(now=now)).select_related(
        "tenant"
    ):
        with tenant_context(waiting.tenant):
            handed += hand_over(waiting_call_id=waiting.pk, now=now)
    return handed


def hand_over(*, waiting_call_id: int, now: dt.datetime | None = None) -> bool:
    """A callback keeping the caller's place in a queue nobody staffs leaves the line: it becomes an
    ordinary callback on the company's callback list, due now (supervisors see it overdue; the
    dialer serves it when someone staffs its queue). The promise to call back stands; only the
    place is given up. The try prepared for it is closed unrung; the caller's call says why."""
    now = now or timezone.now()
    sid = WaitingCall.objects.filter(pk=waiting_call_id).values_list("call_sid", flat=True).first()
    with transaction.atomic():  # the try's record, then the router's row: never waiting for either
        call = one(Call.objects.select_for_update(skip_locked=True).filter(call_sid=sid))
        waiting = one(WaitingCall.objects.select_for_update(skip_locked=True).filter(pk=waiting_call_id))
        if call is None or waiting is None or waiting.call_sid != sid:
            return False  # busy now (the next tick looks again), or moved on
        if waiting.kind != WaitingCall.Kind.CALLBACK or waiting.state != WaitingCall.State.WAITING:
            return False  # offered meanwhile, or gone
        callback = callback_of(call, lock=True)
        routing.leave(call_sid=waiting.call_sid, outcome="callback list", now=now)
        reason = "nobody staffed the queue"
        set_outcome(call, Call.Outcome.FAILED, at=now, reason=f"handed to the callback list: {reason}")
        Call.objects.filter(pk=call.pk, wrapup_ended_at=None).update(wrapup_ended_at=now)
        if callback is None or callback.state != Callback.State.IN_LINE:
            return True  # the try is closed all the same: never a Call left open
        add_event(call, "callback_result", dedupe="callback_result", at=now, outcome="handed over",
                  state=Callback.State.OPEN)  # fmt: skip
        callback.state, callback.keeps_place, callback.due_at = Callback.State.OPEN, False, now
        callback.save(update_fields=["state", "keeps_place", "due_at"])
        waited = round((now - waiting.enqueued_at).total_seconds())
        add_event(callback.call, "callback_handed_over", dedupe="callback_handed_over", at=now, reason=reason,
                  waited=waited, tries=callback.attempts)  # fmt: skip
        announce_on_commit(events.callback_booked, callback_id=callback.pk, queue_id=callback.queue_id,
                           due_at=now)  # fmt: skip
    log.info("callback %s handed to the callback list: %s", callback.pk, reason)
    return True


def _asked_since(call: Call) -> dt.datetime | None:
    """When the first ``calls.create`` of this try that may have placed a call went out (None:
    none did): asked and never known to have failed (Twilio's answer lost, or the worker died
    before the CallSid was recorded). Twilio's own callbacks place a call it made (``placed``);
    this covers the ones lost."""
    maybe = Q(kind="dial_unanswered") | (Q(kind="dial_asked") & ~Q(data__has_key="unplaced"))
    return CallEvent.objects.filter(maybe, call=call).order_by("at").values_list("at", flat=True).first()


def _found_at_twilio(call: Call) -> bool:
    """A try not placed yet whose earlier ask Twilio did take: placed now with Twilio's CallSid.
    Raises ``gateway.TwilioUnavailable`` when Twilio does not answer the look-up."""
    since = _asked_since(call)
    if since is None:
        return False
    found = gateway.created_call(to=call.to_number, from_=call.from_number, since=since)
    if not found:
        return False
    placed(call=call, call_sid=found)
    add_event(call, "dial_found", dedupe="dial_found", call_sid=found)
    return True


def give_up(*, waiting_call_id: int, reason: str) -> bool:
    """Twilio stayed unavailable through every retry: this try failed (the callback rules apply)."""
    attempt = conferences.current_attempt(waiting_call_id)
    if attempt is None or attempt.waiting.kind != WaitingCall.Kind.CALLBACK:
        return False
    with tenant_context(attempt.waiting.tenant):
        call = one(Call.objects.filter(call_sid=attempt.waiting.call_sid))
        if call is None or call.placed_at is not None:
            return conferences.give_up(waiting_call_id=waiting_call_id, reason=reason)
        try:
            if _found_at_twilio(call):  # an ask Twilio took after all: the try rings, left to its answer
                return True
        except gateway.TwilioUnavailable as exc:
            log.warning("callback try %s: Twilio not asked whether it placed it (%s)", call.pk, exc)
        return tried(call=call, status="failed", reason=reason)


def ended_before_placed(*, call_sid: str, now: dt.datetime | None = None) -> bool:
    """The operator ended a callback's try before Twilio placed it (the router's row has left):
    as when they end it before the person answers, the callback is given up, never left waiting
    in line with no row to bring it back. False for any other call."""
    call = one(Call.objects.filter(call_sid=call_sid, placed_at__isnull=True))
    if call is None or callback_of(call) is None:
        return False
    return tried(call=call, status="canceled", reason="ended by the operator before it rang", now=now)


def placed(*, call: Call, call_sid: str, now: dt.datetime | None = None) -> None:
    """The try has its CallSid: the record and the router's row take it, the callback is being
    called (its lists say so) and this try is counted. Idempotent (the task and Twilio's first
    callback may both bring it)."""
    if not call_sid:
        return
    now = now or timezone.now()
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        if locked.placed_at is None:
            pending = locked.call_sid
            Call.objects.filter(pk=call.pk).update(
                call_sid=call_sid, placed_at=now, started_at=now, status=Call.Status.RINGING
            )
            WaitingCall.objects.filter(call_sid=pending).update(call_sid=call_sid)
            callback = callback_of(locked, lock=True)
            if callback is not None:
                callback.state, callback.attempts = Callback.State.DIALING, callback.attempts + 1
                callback.save(update_fields=["state", "attempts"])
            locked.call_sid = call_sid
            add_event(locked, "dialing", dedupe="dialing", at=now, to=locked.to_number)
    call.refresh_from_db()


def answered(
    *, call: Call, call_sid: str, now: dt.datetime | None = None
) -> tuple[VoiceResponse, int | None]:
    """The person picked up: they hear who calls and enter the call's conference. ``(TwiML, the
    router's row to connect an operator to)``: None when no operator is being connected now (the
    router offers the callback again; its caller waits in the conference with music)."""
    now = now or timezone.now()
    placed(call=call, call_sid=call_sid, now=now)
    waiting = one(WaitingCall.objects.filter(call_sid=call.call_sid))
    if call.outcome or call.ended_at or waiting is None or waiting.state == WaitingCall.State.LEFT:
        return twiml.goodbye("We are sorry, we could not connect you. Goodbye.", _voice()), None
    settings = settings_now(now)  # as the operator's leg's (announcements)
    name = conferences.conference_name(call.call_sid)
    status_callback, recording_callback = conference_callbacks(call, settings)
    note_caller_in_conference(call, at=now)
    add_event(call, "callback_answered", dedupe="callback_answered", at=now)
    response = twiml.conference_caller(
        name=name,
        hold_music_url=settings.hold_music_url,
        status_callback=status_callback,
        recording_callback=recording_callback,
        greeting=f"Hello, this is {connection.tenant.name} calling you back, as you asked. "
        "Please hold: an operator is joining you.",
        voice=_voice(),
    )
    return response, waiting.pk if waiting.state == WaitingCall.State.BRIDGED else None


def status(*, call: Call, params: TwilioCallParams, now: dt.datetime | None = None) -> None:
    """A try's call status: at its end, the callback is done (the operator talked to the person)
    or the try failed (the callback rules apply)."""
    now = now or timezone.now()
    placed(call=call, call_sid=params.call_sid, now=now)
    if params.status not in STATUS_RANK:
        return
    final = STATUS_RANK[params.status] == 3
    if final and call.answered_at is None:
        if params.status == Call.Status.COMPLETED:  # picked up, but gone before the operator joined
            tried(call=call, status="hung-up", reason="hung up before the operator joined", now=now)
        else:
            tried(call=call, status=params.status, now=now)
    record_status(params=params, now=now)
    if final and call.answered_at is not None:
        done(call=call, now=now)


def done(*, call: Call, now: dt.datetime) -> None:
    """The person and the operator talked: the callback is done; the operator goes to wrap-up."""
    with transaction.atomic():
        callback = callback_of(call, lock=True)
        if callback is not None and callback.state != Callback.State.DONE:
            callback.state = Callback.State.DONE
            callback.save(update_fields=["state"])
            add_event(call, "callback_result", dedupe="callback_result", at=now, outcome="answered",
                      state=callback.state)  # fmt: skip
            add_event(callback.call, "callback_done", dedupe="callback_done", at=now, tries=callback.attempts,
                      operator=call.operator_name)  # fmt: skip
        routing.leave(call_sid=call.call_sid, outcome="ended", now=now)


def tried(*, call: Call, status: str, reason: str = "", now: dt.datetime | None = None) -> bool:
    """A try reached nobody: its outcome, the operator freed, and the callback's next try at the
    same place (after ``RETRY_AFTER``) or, after ``MAX_TRIES``, given up. False when already done."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        if locked.outcome or locked.answered_at is not None:
            return False
        set_outcome(locked, Call.Outcome.FAILED, at=now, reason=reason or status)
        Call.objects.filter(pk=call.pk, wrapup_ended_at=None).update(wrapup_ended_at=now)
        callback = callback_of(locked, lock=True)
        if callback is None or callback.state in (Callback.State.DONE, Callback.State.CANCELLED):
            freed = routing.leave_unconnected(call_sid=locked.call_sid, reason=reason or status, now=now)
            _tell(freed, reason or status)
            return True
        if locked.placed_at is None:  # never rang (refused): still a try
            callback.attempts += 1
        in_line = WaitingCall.objects.filter(call_sid=locked.call_sid).exclude(state=WaitingCall.State.LEFT)
        if not in_line.exists():  # the operator ended it before anyone answered: no more tries
            callback.state = Callback.State.CANCELLED
            add_event(callback.call, "callback_given_up", dedupe="callback_given_up", at=now,
                      tries=callback.attempts, last="ended by the operator")  # fmt: skip
        elif callback.attempts < MAX_TRIES:
            following = new_try(callback=callback, original=callback.call, now=now)
            due = now + RETRY_AFTER
            freed = kept.defer(call_sid=locked.call_sid, next_sid=following.call_sid, due_at=due,
                               reason=f"callback {status}", now=now)  # fmt: skip
            callback.state, callback.due_at = Callback.State.IN_LINE, due
            _tell(freed, reason or status)
        else:
            freed = routing.leave_unconnected(call_sid=locked.call_sid, reason="callback given up", now=now)
            callback.state = Callback.State.CANCELLED
            add_event(callback.call, "callback_given_up", dedupe="callback_given_up", at=now,
                      tries=callback.attempts, last=status)  # fmt: skip
            _tell(freed, reason or status)
        callback.save(update_fields=["state", "attempts", "due_at"])
        add_event(
            locked, "callback_result", dedupe="callback_result", at=now, outcome=status, state=callback.state
        )
    log.info("callback try %s reached nobody (%s): %s", call.pk, status, callback.state)
    return True


def _tell(freed, reason: str) -> None:
    """The operator who was calling is told the try is over (their console clears the call)."""
    if not freed:
        return
    operator, reservation = freed
    push_on_commit(
        user_id=operator.user_id,
        message={"type": "outbound_ended", "reservation": reservation.pk,
                 "reason": f"the person called back was not reached ({reason})"},
    )  # fmt: skip
