"""Every answered call is a Twilio conference named for the call (as Twilio Flex does).

On accept the caller is moved out of the queue into the conference (hold music until the operator
joins: the caller does not start it), and the operator's browser phone is added as a participant
labelled with the offer (``operator-<reservation id>``): each attempt to connect an operator is
one accepted reservation. The call is answered when that participant joins. When it does not
(no answer, busy, failed, Twilio refused it), the caller stays in the conference with music and
the call goes back in line with its place and priority (``routing.bridge_failed``).

Every function here is safe to run twice and in any order: Twilio retries and reorders callbacks,
and the bridge task is retried after 429/5xx/timeouts. Lock order: the tenant's call row, then the
router's rows (as the status callback does).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_tenants.utils import tenant_context

from config.queries import json_key, one
from telephony import announcements, gateway, routing, twiml
from telephony.calls import flows
from telephony.calls.bridging import operator_identity, record_answer
from telephony.calls.models import Call, CallEvent, TelephonySettings
from telephony.calls.records import (
    IN_CONFERENCE,
    add_event,
    call_by_sid,
    caller_in_conference,
    dedupe_key,
    held_seconds,
    note_caller_in_conference,
    on_hold,
    set_outcome,
)
from telephony.pushes import push_on_commit
from telephony.routing_models import Reservation, WaitingCall

log = logging.getLogger(__name__)
FAILED_LEG = frozenset({"no-answer", "busy", "failed", "canceled"})
OPERATOR_PREFIX = "operator-"


conference_name = twiml.conference_name


def operator_label(reservation_id: int) -> str:
    """The participant label of one attempt to connect an operator (Twilio echoes it back)."""
    return f"{OPERATOR_PREFIX}{reservation_id}"


def attempt_of(label: str) -> int | None:
    """The reservation id an operator's participant label names (None for the caller, specialists)."""
    rest = label.removeprefix(OPERATOR_PREFIX)
    return int(rest) if label.startswith(OPERATOR_PREFIX) and rest.isdigit() else None


@dataclass(frozen=True)
class Attempt:
    waiting: WaitingCall
    reservation: Reservation


def current_attempt(waiting_call_id: int) -> Attempt | None:
    """The accepted offer being connected now; None when the call is not bridged to an operator.
    One statement: the call's accepted offer (one live offer a call) with the call in line, bridged
    to that very operator, and its company, queue and operator."""
    reservation = one(
        Reservation.objects.select_related("call__tenant", "call__queue", "call__operator").filter(
            call_id=waiting_call_id,
            state=Reservation.State.ACCEPTED,
            call__state=WaitingCall.State.BRIDGED,
            call__operator=F("operator"),
        )
    )
    return Attempt(reservation.call, reservation) if reservation else None


def _joining(*, call: Call, reservation_id: int) -> Attempt | None:
    """The attempt a leg joining as ``reservation_id`` connects, if it is the call's current one
    (``current_attempt``): that offer accepted, its call in line still bridged to that operator.
    One statement, the offer with its call in line and their operator, in the company's schema (the
    join's webhook runs there): not the call in line with its company and queue, then its offer."""
    reservation = one(
        Reservation.objects.select_related("call__operator").filter(
            pk=reservation_id,
            state=Reservation.State.ACCEPTED,
            call__call_sid=call.call_sid,
            call__tenant=connection.tenant,
            call__state=WaitingCall.State.BRIDGED,
            call__operator=F("operator"),
        )
    )
    if reservation is None:
        return None
    waiting = reservation.call
    waiting.tenant = connection.tenant  # the company whose schema this runs in, as filtered above
    return Attempt(waiting, reservation)


def caller_left_conference(call: Call) -> bool:
    """Whether the caller's leg has left the call's conference (the conference's end, which their
    leaving brings: moved out by a redirect, or hung up; or Twilio's participant-leave of the
    caller, which conferences asked for until 2026-12-05)."""
    left = Q(kind="conference:participant-leave", data__label=twiml.CALLER_LABEL)
    return call.events.filter(left | Q(kind="conference:conference-end")).exists()


def bridge(*, waiting_call_id: int) -> bool:
    """Connect an accepted call: the caller into the conference (once), the operator's leg added
    (once per attempt). True when the operator's phone is ringing into the conference.

    Raises ``gateway.TwilioUnavailable`` for the task to retry (each step is skipped once done)."""
    attempt = current_attempt(waiting_call_id)
    if attempt is None:
        return False
    waiting, reservation = attempt.waiting, attempt.reservation
    with tenant_context(waiting.tenant):
        call = call_by_sid(waiting.call_sid)
        if call is None or call.ended_at is not None:
            return False
        # What this call and attempt did already, in one query: the caller moved, the leg placed,
        # a create Twilio did not answer (kind → when).
        keys = [dedupe_key(call, key) for key in (IN_CONFERENCE, f"leg:{reservation.pk}",
                                                    f"leg_unanswered:{reservation.pk}")]  # fmt: skip
        done = dict(CallEvent.objects.filter(dedupe_key__in=keys).values_list("kind", "at"))
        if IN_CONFERENCE not in done and not _move_caller(call, reservation.pk):
            return False
        if "leg" in done:
            return True
        return _ring_operator(call, waiting, reservation.pk, unanswered_at=done.get("leg_unanswered"))


def _ring_operator(
    call: Call, waiting: WaitingCall, reservation_id: int, *, unanswered_at: dt.datetime | None
) -> bool:
    """The operator's leg of this attempt: a call to their browser phone that hears the client
    announced (R19), then joins the conference labelled with the attempt (``announcements``).

    A create Twilio did not answer may have been placed: it is recorded, and the next try asks
    Twilio for a call to that phone since then before placing another (never two legs ringing)."""
    identity = operator_identity(waiting.operator.user_id)
    response, announced = announcements.operator_leg(call, label=operator_label(reservation_id))
    leg = {"operator": waiting.operator_id, "announcement": announced}
    if unanswered_at is not None:
        address = gateway.client_leg(identity)
        leg_sid = gateway.created_call(to=address, from_=address, since=unanswered_at, live=True)
        if leg_sid:
            add_event(call, "leg", dedupe=f"leg:{reservation_id}", call_sid=leg_sid, found=True, **leg)
            return True
    asked = timezone.now()
    try:
        answer, leg_sid = gateway.ring_client(
            identity=identity,
            twiml_text=str(response),
            status_callback=gateway.absolute(twiml.url("twilio-conference-leg", c=call.pk, r=reservation_id)),
            timeout=waiting.queue.ring_timeout,
        )
    except gateway.TwilioNoAnswer as exc:  # maybe ringing: looked up before any new create
        add_event(call, "leg_unanswered", dedupe=f"leg_unanswered:{reservation_id}", at=asked,
                  reason=str(exc))  # fmt: skip
        raise
    if answer is not gateway.Answer.DONE:
        attempt_failed(call=call, reservation_id=reservation_id, reason=f"operator leg {answer.value}")
        return False
    add_event(call, "leg", dedupe=f"leg:{reservation_id}", call_sid=leg_sid, **leg)
    return True


def _move_caller(call: Call, reservation_id: int) -> bool:
    """The caller out of Twilio's queue into the conference, once: under the call's row lock, so a
    caller leaving the line at that moment (``flows.queue_result``) either is moved here or joins by
    that answer, never both (issue 23). False when the attempt is over."""
    with transaction.atomic():
        one(Call.objects.select_for_update().filter(pk=call.pk))
        if caller_in_conference(call):  # joined by the answer to their leaving the line
            return True
        answer = gateway.update_call(call_sid=call.call_sid, twiml_text=str(flows.caller_conference(call)))
        if answer is gateway.Answer.GONE:
            caller_gone(call=call, reason="gone before the bridge")
            return False
        if answer is gateway.Answer.REFUSED:
            attempt_failed(call=call, reservation_id=reservation_id, reason="caller move refused by Twilio")
            return False
        note_caller_in_conference(call)
    return True


def give_up(*, waiting_call_id: int, reason: str) -> bool:
    """The platform could not connect the accepted call (Twilio unavailable through every retry,
    or the connecting task not sent): this attempt failed, the caller is re-routed. Not the
    operator's miss."""
    attempt = current_attempt(waiting_call_id)
    if attempt is None:
        return False
    with tenant_context(attempt.waiting.tenant):
        call = one(Call.objects.filter(call_sid=attempt.waiting.call_sid))
        if call is None:
            return routing.bridge_failed(reservation_id=attempt.reservation.pk, reason=reason, missed=False)
        return attempt_failed(call=call, reservation_id=attempt.reservation.pk, reason=reason, missed=False)


def caller_gone(*, call: Call, reason: str, now: dt.datetime | None = None) -> None:
    """The caller hung up before an operator joined: abandoned; their operator is free at once."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        if locked.answered_at is None:
            set_outcome(locked, Call.Outcome.ABANDONED, at=now, reason=reason)
            routing.leave_unconnected(call_sid=call.call_sid, reason=Call.Outcome.ABANDONED, now=now)


def attempt_failed(
    *, call: Call, reservation_id: int, reason: str, missed: bool = True, now: dt.datetime | None = None
) -> bool:
    """The operator's leg of this attempt did not join: back in line (place and priority kept).
    ``missed``: counted against the operator (``routing.bridge_failed``). False when the attempt is
    over already (joined, failed before, the call left)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        if locked.answered_at is not None or locked.ended_at is not None:
            return False
        if not routing.bridge_failed(reservation_id=reservation_id, reason=reason, missed=missed, now=now):
            return False
        Call.objects.filter(pk=call.pk).update(operator_id=None, operator_name="")
        add_event(call, "bridge_failed", dedupe=f"bridge_failed:{reservation_id}", at=now, reason=reason)
    log.info("call %s: the operator's leg of offer %s did not join (%s)", call.call_sid, reservation_id,
             reason)  # fmt: skip
    return True


def participant_joined(*, call: Call, label: str, leg_sid: str, now: dt.datetime | None = None) -> bool:
    """A participant joined the call's conference: the operator's join answers the call. A leg of
    an attempt that is over (failed meanwhile) is hung up: the call is someone else's now. So is a
    leg joining after the caller's call ended (they hung up while the operator heard the
    announcement: the operator's join opened a new, empty conference of the same name)."""
    reservation_id = attempt_of(label)
    if reservation_id is None:
        return False
    now = now or timezone.now()
    with transaction.atomic():
        # The call locked, reading only whether the caller's leg has ended: what else the answer
        # writes is the call's as it was queued, read with it before (``call``).
        ended_at = (
            Call.objects.select_for_update().filter(pk=call.pk).values_list("ended_at", flat=True).get()
        )
        attempt = _joining(call=call, reservation_id=reservation_id)
        if attempt is None or ended_at is not None:
            add_event(call, "stale_leg", dedupe=f"stale_leg:{reservation_id}", at=now, call_sid=leg_sid)
            # A caller still in the conference stays: this leg must not end it as it leaves.
            live = "" if ended_at is not None else conference_sid(call)
            transaction.on_commit(lambda: _hang_up_leg(leg_sid, label=label, conference_sid=live))
            return False
        if record_answer(waiting=attempt.waiting, reservation=attempt.reservation, call=call, at=now):
            # The console shows what a connected call offers (hold, mute, pause the recording).
            message = {"type": "connected", "reservation": attempt.reservation.pk}
            push_on_commit(user_id=attempt.waiting.operator.user_id, message=message)
    return True


def put_through(*, call: Call, reservation_id: int | None, reason: str) -> bool:
    """Unmute the caller and (``reservation_id``) the operator of that attempt: a call being
    connected while this version was deployed was set up by the one before, which muted both until
    an announcement on the operator's participant (this version says it on the operator's leg, and
    mutes nobody). Idempotent; raises ``TwilioUnavailable`` (the task retries)."""
    sid = conference_sid(call)
    if not sid:
        return False
    participants = [call.call_sid] + ([operator_label(reservation_id)] if reservation_id is not None else [])
    for participant in participants:
        if gateway.update_participant(conference_sid=sid, participant=participant, muted=False) is not (
            gateway.Answer.DONE
        ):
            log.info("call %s: %s not unmuted (gone or refused)", call.call_sid, participant)
    add_event(call, "released", dedupe=f"released:{reservation_id}", reason=reason)
    return True


def hang_up_ringing_legs(call: Call) -> int:
    """The caller hung up while an operator was being connected: the operator's legs not over yet
    (ringing, or hearing the announcement) are hung up once, so their phone does not take a call
    nobody is on (and ring busy to their next offer). The number of legs."""
    events = call.events.filter(kind__in=["leg", "leg_status"]).values_list("kind", "data")
    ended, legs = set(), []
    for kind, data in events:
        if kind == "leg_status" and (data.get("status") in FAILED_LEG or data.get("status") == "completed"):
            ended.add(data.get("call_sid"))
        elif kind == "leg" and data.get("call_sid"):
            legs.append(data["call_sid"])
    ringing = [sid for sid in legs if sid not in ended]
    if not ringing or not add_event(call, "legs_hung_up", dedupe="legs_hung_up", legs=ringing):
        return 0
    for leg_sid in ringing:
        transaction.on_commit(lambda leg_sid=leg_sid: _hang_up_leg(leg_sid, label="", conference_sid=""))
    return len(ringing)


def _hang_up_leg(leg_sid: str, *, label: str, conference_sid: str) -> None:
    """Hang up a stale operator's leg; in a live ``conference_sid``, first make its leaving not end
    the conference (its TwiML said it would: the caller waiting there would be cut off)."""
    if not leg_sid:
        return
    try:
        if conference_sid:
            gateway.update_participant(
                conference_sid=conference_sid, participant=label, end_conference_on_exit=False
            )
        gateway.hang_up(call_sid=leg_sid)
    except gateway.TwilioUnavailable:
        log.warning("could not hang up the stale leg %s now; its operator hears an empty line", leg_sid)


def leg_status(*, call: Call, reservation_id: int, status: str, now: dt.datetime | None = None) -> bool:
    """The operator's leg reported a call status: a failure before the join re-routes the call."""
    if status in FAILED_LEG:
        return attempt_failed(call=call, reservation_id=reservation_id, reason=status, now=now)
    if status == "completed" and call.answered_at is None:
        # The leg ended without ever joining (it answered, then hung up at once).
        return attempt_failed(call=call, reservation_id=reservation_id, reason="left before joining", now=now)
    return False


def conference_sid(call: Call) -> str:
    """The Twilio SID of the call's conference, learnt from its first status callback (each one's
    event keeps it: ``sid``); '' before. A ``conference_sid`` event is how calls recorded before
    2026-12-05 kept it."""
    told = Q(kind__startswith="conference:") | Q(kind="conference_sid")
    events = call.events.filter(told, data__has_key="sid").exclude(data__sid="")
    data = events.order_by("pk").values_list("data", flat=True).first()  # (``config.queries.json_key``)
    return json_key(data, "sid") or ""


def on_hold_now(call: Call) -> bool:
    """Whether the caller is on hold now."""
    return on_hold(call)


class ConferenceRefused(Exception):
    """Twilio refused a change to the call's conference; the message is for the operator."""


def change_participant(call: Call, participant: str, **changes: object) -> None:
    sid = conference_sid(call)
    if not sid:
        raise ConferenceRefused("The call is not connected yet.")
    try:
        answer = gateway.update_participant(conference_sid=sid, participant=participant, **changes)
    except gateway.TwilioUnavailable as exc:
        raise ConferenceRefused("Twilio is not answering right now; please try again.") from exc
    if answer is gateway.Answer.GONE:
        raise ConferenceRefused("The caller has hung up.")
    if answer is gateway.Answer.REFUSED:
        raise ConferenceRefused("Twilio refused the change; please try again.")


def set_hold(*, call: Call, on: bool, by: str, now: dt.datetime | None = None) -> bool:
    """Hold (the caller hears the company's hold music; the recording goes on) or take back (no
    ring: the operator never left the conference). The time on hold is added to the call's."""
    now = now or timezone.now()
    if on:
        music = TelephonySettings.current().hold_music_url
        change_participant(call, call.call_sid, hold=True, hold_url=music, hold_method="GET")
    else:
        change_participant(call, call.call_sid, hold=False)
    with transaction.atomic():
        if on:
            add_event(call, "hold", at=now, by=by)
        else:
            seconds = held_seconds(call, now)
            Call.objects.filter(pk=call.pk).update(hold_seconds=F("hold_seconds") + seconds)
            add_event(call, "unhold", at=now, by=by, seconds=seconds)
    return on


def set_mute(*, call: Call, reservation_id: int, on: bool, by: str) -> bool:
    """Mute (or unmute) the operator's own line in the conference: the caller does not hear them."""
    change_participant(call, operator_label(reservation_id), muted=on)
    add_event(call, "mute" if on else "unmute", by=by)
    return on
