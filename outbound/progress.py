"""What happens to a placed outbound call: answered by a person or a machine, or not at all.

Each function runs inside the tenant's schema (the webhook switched to it by ``t``) and is safe
to run twice (Twilio may post a webhook twice): outcomes are written once, the operator is
released once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from twilio.twiml.voice_response import VoiceResponse

from outbound import rules
from outbound import twiml as outbound_twiml
from outbound.calls import CALLBACK_MAX_ATTEMPTS, CALLBACK_RETRY, is_pending, set_sid, task_of
from outbound.models import Attempt, Campaign, CampaignContact
from outbound.work import mark_work_on_commit
from telephony import gateway, routing, twiml
from telephony.calls.bridging import operator_identity
from telephony.calls.callback_tries import settle_refusal
from telephony.calls.flows import voice_of
from telephony.calls.models import Call, Callback, TelephonySettings
from telephony.calls.records import STATUS_RANK, TwilioCallParams, add_event, record_status, set_outcome
from telephony.events import DialRefusal
from telephony.models import OperatorProfile, Reservation, WaitingCall
from telephony.pushes import push_on_commit
from telephony.routing_models import LIVE_RESERVATION

MACHINE_ANSWERS = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")
# Twilio's final call statuses → the attempt's outcome when nobody was connected.
UNANSWERED = {
    "busy": Attempt.Outcome.BUSY,
    "no-answer": Attempt.Outcome.NO_ANSWER,
    "failed": Attempt.Outcome.FAILED,
    "canceled": Attempt.Outcome.CANCELED,
    "completed": Attempt.Outcome.NO_ANSWER,  # answered but never reached our answer URL
}


def _attempt(task: dict[str, Any] | None) -> Attempt | None:
    if not task or task.get("task") != "campaign":
        return None
    return Attempt.objects.filter(pk=task["attempt"]).first()


def _settle_task(call: Call, task: dict[str, Any] | None, outcome: str, now: dt.datetime) -> None:
    """Record the task's result: the campaign attempt (retry rules), or the callback."""
    if not task:
        return
    attempt = _attempt(task)
    if attempt is not None:
        rules.record_attempt_result(attempt=attempt, outcome=outcome, now=now)
        return
    if task.get("task") == "callback":
        callback = Callback.objects.select_for_update().filter(pk=task["callback"]).first()
        if callback is None or callback.state != Callback.State.DIALING:
            return
        if outcome == Attempt.Outcome.ANSWERED:
            callback.state = Callback.State.DONE
        elif outcome == Attempt.Outcome.CANCELED:
            callback.state = Callback.State.OPEN
            callback.attempts = max(0, callback.attempts - 1)
        elif callback.attempts >= CALLBACK_MAX_ATTEMPTS:
            callback.state = Callback.State.CANCELLED
        else:
            callback.state, callback.due_at = Callback.State.OPEN, now + CALLBACK_RETRY
        callback.save(update_fields=["state", "attempts", "due_at"])
        if callback.state == Callback.State.OPEN:  # due again: the dialer's index (issue 23)
            mark_work_on_commit(queue_id=callback.queue_id, due_at=callback.due_at)
        add_event(call, "callback_result", dedupe=f"callback_result:{outcome}", at=now, outcome=outcome,
                  state=callback.state)  # fmt: skip


def callback_refusal(
    callback: Callback, *, now: dt.datetime, rule: rules.CallbackRule | None = None
) -> DialRefusal | None:
    """Whether a booked callback may be dialled now, by the one rule of every callback
    (``rules.CallbackRule``, the same the callbacks that keep the caller's place obey): asking was
    consent, so a do-not-call entry from before the request does not stop it, one added after
    does; outside the calling hours it waits for their next opening. ``rule``: read already for
    several callbacks (else read for this one)."""
    rule = rule or rules.callback_rule([callback.phone])
    return rule.refusal(phone=callback.phone, asked_at=callback.created_at, now=now)


def callback_not_now(*, callback_id: int, refusal: DialRefusal, now: dt.datetime) -> None:
    """A booked callback the rule stopped (nothing rang, no try counted): given up for good, or
    open on the callback list again at ``refusal.retry_at`` (``callback_tries.settle_refusal``, the
    step of a callback that kept the caller's place too), and then the dialer's index told."""
    with transaction.atomic():
        callback = Callback.objects.select_for_update().select_related("call").filter(pk=callback_id).first()
        if callback is None or callback.state not in (Callback.State.OPEN, Callback.State.DIALING):
            return
        settle_refusal(callback=callback, refusal=refusal, waits_in=Callback.State.OPEN, now=now)
        if refusal.retry_at is not None:
            mark_work_on_commit(queue_id=callback.queue_id, due_at=refusal.retry_at)


def release_operator(*, call_sid: str, reason: str, now: dt.datetime) -> None:
    """Nobody was connected: the router's row leaves and the operator is free again at once (the
    router offers them inbound calls first, then the dialer more work)."""
    with transaction.atomic():
        freed = routing.leave_unconnected(call_sid=call_sid, reason=reason, now=now)
        if freed is not None:
            operator, reservation = freed
            push_on_commit(
                user_id=operator.user_id,
                message={"type": "outbound_ended", "reservation": reservation.pk, "reason": reason},
            )


def give_back(*, call: Call, reason: str, now: dt.datetime, delay: dt.timedelta | None = None) -> None:
    """A task never dialed (skipped, refused at dial time, preview timed out): the work goes back,
    the operator is freed, and the call record that never rang is removed."""
    task = task_of(call)
    with transaction.atomic():
        locked = Call.objects.select_for_update().filter(pk=call.pk).first()
        if locked is None or not is_pending(locked):
            return
        _settle_task(locked, task, Attempt.Outcome.CANCELED, now)
        if task and task.get("task") == "campaign":
            _after_give_back(task, reason, delay, now)
        elif task and delay:
            Callback.objects.filter(pk=task["callback"]).update(due_at=now + delay)
            queue_id = Callback.objects.filter(pk=task["callback"]).values_list("queue_id", flat=True).first()
            mark_work_on_commit(queue_id=queue_id, due_at=now + delay)
        release_operator(call_sid=locked.call_sid, reason=reason, now=now)
        session = locked.script_session
        locked.delete()
        if session is not None:
            session.delete()


def _after_give_back(task: dict[str, Any], reason: str, delay: dt.timedelta | None, now: dt.datetime) -> None:
    entry = CampaignContact.objects.filter(pk=task["entry"]).first()
    if entry is None:
        return
    if "do-not-call" in reason:
        rules.sweep_blocked(campaign=Campaign.objects.get(pk=task["campaign"]))
    elif delay and entry.state == CampaignContact.State.PENDING:
        CampaignContact.objects.filter(pk=entry.pk).update(next_due_at=now + delay)


def finish_unanswered(*, call: Call, status: str, now: dt.datetime, reason: str = "") -> None:
    """The call ended without a person on the line: outcome, retry rule, the operator freed."""
    task = task_of(call)
    outcome = UNANSWERED.get(status, Attempt.Outcome.FAILED)
    with transaction.atomic():
        set_outcome(call, Call.Outcome.FAILED, at=now, reason=reason or status)
        Call.objects.filter(pk=call.pk, wrapup_ended_at=None).update(wrapup_ended_at=now)
        _settle_task(call, task, outcome, now)
        release_operator(call_sid=call.call_sid, reason=reason or status, now=now)


def answered(*, call: Call, call_sid: str, answered_by: str, now: dt.datetime | None = None) -> VoiceResponse:
    """The callee picked up: a machine hears the campaign's message, a person meets the operator."""
    now = now or timezone.now()
    set_sid(pending=call.call_sid, call_sid=call_sid)
    call.refresh_from_db()
    voice = voice_of(TelephonySettings.current())
    task = task_of(call) or {}
    if call.outcome:
        return twiml.goodbye("", voice)
    campaign = (
        Campaign.objects.filter(pk=task.get("campaign")).first() if task.get("task") == "campaign" else None
    )
    if answered_by in MACHINE_ANSWERS and campaign is not None and campaign.amd_enabled:
        return _machine(
            call=call, task=task, campaign=campaign, answered_by=answered_by, voice=voice, now=now
        )
    with transaction.atomic():
        waiting = WaitingCall.objects.select_for_update().filter(call_sid=call.call_sid).first()
        live = (
            Reservation.objects.select_for_update().filter(LIVE_RESERVATION, call=waiting).first()
            if waiting is not None
            else None
        )
        if waiting is None or live is None:
            # The operator left meanwhile: apologise rather than leave a silent line.
            add_event(call, "no_operator", dedupe="no_operator", at=now)
            set_outcome(call, Call.Outcome.FAILED, at=now, reason="no operator")
            _settle_task(call, task, Attempt.Outcome.FAILED, now)
            return twiml.goodbye(outbound_twiml.OPERATOR_GONE_MESSAGE, voice)
        profile = OperatorProfile.objects.select_for_update().get(pk=live.operator_id)
        if waiting.state == WaitingCall.State.LEFT:
            set_outcome(call, Call.Outcome.FAILED, at=now, reason="no operator")
            _settle_task(call, task, Attempt.Outcome.FAILED, now)
            return twiml.goodbye(outbound_twiml.OPERATOR_GONE_MESSAGE, voice)
        if call.answered_at is None:  # the person's answer time (the row held the reservation's)
            waiting.answered_at = now
            waiting.save(update_fields=["answered_at"])
        Call.objects.filter(pk=call.pk, answered_at=None).update(
            answered_at=now, offered_at=live.offered_at, status=Call.Status.IN_PROGRESS
        )
        add_event(
            call, "bridged", dedupe=f"bridged:{profile.user_id}", at=now, answered_by=answered_by or "human"
        )
        _settle_task(call, task, Attempt.Outcome.ANSWERED, now)
        push_on_commit(user_id=profile.user_id, message={"type": "connected", "reservation": live.pk})
        record_calls = TelephonySettings.current().record_calls
    return outbound_twiml.connect_operator(
        identity=operator_identity(profile.user_id),
        record=record_calls,
        recording_callback=twiml.url("twilio-recording"),
        action=twiml.url("outbound-dial-result", c=call.pk),  # the handler finds the call by ``c``
    )


def _machine(
    *,
    call: Call,
    task: dict[str, Any],
    campaign: Campaign,
    answered_by: str,
    voice: twiml.Voice,
    now: dt.datetime,
) -> VoiceResponse:
    """An answering machine: the campaign's message (or nothing), the retry rule, the operator freed."""
    add_event(call, "machine", dedupe="machine", at=now, answered_by=answered_by)
    with transaction.atomic():
        set_outcome(call, Call.Outcome.FAILED, at=now, reason="answering machine")
        Call.objects.filter(pk=call.pk, wrapup_ended_at=None).update(wrapup_ended_at=now)
        _settle_task(call, task, Attempt.Outcome.MACHINE, now)
        release_operator(call_sid=call.call_sid, reason="answering machine", now=now)
    if campaign.machine_action == Campaign.MachineAction.HANG_UP or answered_by == "fax":
        return twiml.goodbye("", voice)
    add_event(call, "machine_message", dedupe="machine_message", at=now, action=campaign.machine_action)
    if campaign.machine_action == Campaign.MachineAction.RECORDING and campaign.machine_recording_url:
        return outbound_twiml.machine_message(voice=voice, recording_url=campaign.machine_recording_url)
    return outbound_twiml.machine_message(voice=voice, text=campaign.machine_message)


def status(*, call: Call, params: TwilioCallParams, now: dt.datetime | None = None) -> None:
    """A status callback of an outbound call; at the end: outcome, attempt, operator."""
    now = now or timezone.now()
    set_sid(pending=call.call_sid, call_sid=params.call_sid)
    call.refresh_from_db()
    if params.status not in STATUS_RANK:
        return
    final = STATUS_RANK[params.status] == 3
    if final and call.answered_at is None and not call.outcome:
        finish_unanswered(call=call, status=params.status, now=now)
    record_status(params=params, now=now)  # also closes a hold the caller hung up in
    if final:
        routing.leave(call_sid=params.call_sid, outcome="ended", now=now)


def operator_leg_ended(
    *, call: Call, result: str, talk: int | None, now: dt.datetime | None = None
) -> VoiceResponse:
    """The operator's leg of the bridge ended (Dial action)."""
    now = now or timezone.now()
    # ``talk`` (the leg's duration) is evidence only: talk comes from the call's times (records.finish).
    dedupe = f"dial:operator:{result}"
    add_event(call, "dial_result:operator", dedupe=dedupe, at=now, status=result, duration=talk)
    voice = voice_of(TelephonySettings.current())
    if result == "completed":
        return twiml.goodbye("", voice)
    return twiml.goodbye(outbound_twiml.OPERATOR_GONE_MESSAGE, voice)


def hold_twiml(*, call: Call) -> str:
    settings = TelephonySettings.current()
    return str(outbound_twiml.hold(voice=voice_of(settings), music_url=settings.hold_music_url))


def reconnect_twiml(*, call: Call) -> str:
    """The caller back from hold: bridged to the same operator again."""
    inbound = call.direction == Call.Direction.INBOUND
    action = (
        twiml.url("twilio-dial-result", leg="operator")
        if inbound
        else twiml.url("outbound-dial-result", c=call.pk)
    )
    return str(
        outbound_twiml.connect_operator(
            identity=operator_identity(call.operator_id),
            record=False,
            recording_callback=gateway.absolute(twiml.url("twilio-recording")),
            action=gateway.absolute(action),
        )
    )
