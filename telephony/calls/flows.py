"""What a caller hears next: the call flow from the first ring to the queue, the IVR and the exits.

Each function runs inside the tenant's schema (the webhook switched to it by the dialled number),
records what happened on the call, and returns the TwiML to play.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings as django_settings
from django.db import connection, transaction
from django.utils import timezone
from twilio.twiml.voice_response import VoiceResponse

from config.queries import one
from scripts_engine.interpreter import Step
from scripts_engine.models import ScriptSession, ScriptVersion, Specialist
from scripts_engine.sessions import SessionError, interpreter_for, session_ack, session_answer, session_start
from telephony import gateway, routing, twiml
from telephony.calls import callback_offer
from telephony.calls.company import call_setup, settings_now
from telephony.calls.hours import after_hours_text, in_force, is_open, specialist_available
from telephony.calls.models import Call, Callback, TelephonySettings
from telephony.calls.records import (
    add_event,
    book_callback,
    caller_in_conference,
    mark_queued,
    note_caller_in_conference,
    set_outcome,
)
from telephony.routing_models import WaitingCall
from tenants.models import Client

MAX_NO_MATCH = 2  # unrecognised IVR answers before we treat it as no input
WAIT_KEY = "*"  # the one key that leaves the queue (for a callback or a message), as announced
WAIT_KEY_HINT = "To be called back without losing your place, or to leave a message, press star."
NO_QUEUE_MESSAGE = "We are sorry, nobody can take your call now. Please leave a message after the tone."
NOBODY_STAFFED_MESSAGE = "We are sorry, no operator is available to take your call right now."


def voice_of(settings: TelephonySettings) -> twiml.Voice:
    return twiml.Voice.of(settings)


def first_step(*, tenant: Client, call: Call, now: dt.datetime | None = None) -> VoiceResponse:
    """The answer to the incoming-call webhook (also to its replays: same call, same answer)."""
    now = now or timezone.now()
    setup = call_setup()
    settings = in_force(setup.settings, now)  # a change scheduled from a date applies from that day
    voice = voice_of(settings)
    if call.outcome:
        return twiml.goodbye("", voice)
    if not is_open(settings, now):
        return _after_hours(call=call, settings=settings, now=now)
    if call.script_session_id is None and setup.script_version is not None:
        _start_script(call, setup.script_version)
    if call.script_session_id is not None:
        session = call.script_session
        step = interpreter_for(session.version).step(
            contact=session.contact, answers=session.answers, seen=session.seen, reopen=session.reopen or None
        )
        if step.mode == "automatic" or step.kind == "automatic":
            if call.ivr_started_at is None:
                Call.objects.filter(pk=call.pk).update(ivr_started_at=now)
                call.ivr_started_at = now
                add_event(call, "ivr_started", dedupe="ivr_started", at=now, node=step.node)
            return _play_step(call=call, step=step, voice=voice, greeting=settings.greeting, now=now)
    return to_queue(tenant=tenant, call=call, voice=voice, text=settings.greeting, now=now)


def _start_script(call: Call, version: ScriptVersion) -> None:
    """Give the call a run of ``version`` (the company's active inbound script)."""
    try:
        session = session_start(
            script=version.script,
            version=version,
            kind=ScriptSession.Kind.CALL,
            contact=_contact_fields(call),
        )
    except SessionError:
        return
    if Call.objects.filter(pk=call.pk, script_session__isnull=True).update(script_session=session):
        call.script_session = session
    else:  # another request gave the call its run meanwhile
        call.refresh_from_db(fields=["script_session"])


def _contact_fields(call: Call) -> dict[str, str]:
    return call.contact.as_fields() if call.contact else {"phone": call.from_number}


def _play_step(
    *, call: Call, step: Step, voice: twiml.Voice, greeting: str = "", now: dt.datetime
) -> VoiceResponse:
    """Play automatic steps until one needs the caller or an operator."""
    session = call.script_session
    spoken: list[str] = [greeting] if greeting else []
    for _ in range(100):  # a valid script always reaches a stop; this only bounds a bad one
        if step.kind == "automatic":
            hints = [word for option in step.options for word in option.speech]
            response = twiml.gather(
                voice=voice,
                prompt=" ".join([*spoken, step.text]),
                action=twiml.url("twilio-gather", node=step.node),
                digits_max=max([len(o.digits or "") for o in step.options] + [1]),
                hints=hints,
            )
            return response
        if step.kind == "say":
            spoken.append(step.text)
            step, _ = session_ack(session=session, node_id=step.node)
            continue
        if step.kind == "handover":
            # The caller hears the handover's own text; the step after it is the operator's script.
            spoken.append(step.text)
            session_ack(session=session, node_id=step.node)
            add_event(call, "ivr_handover", dedupe="ivr_handover", at=now)
            return to_queue(tenant=_tenant(), call=call, voice=voice, text=" ".join(spoken), now=now)
        if step.kind == "end":
            set_outcome(call, Call.Outcome.COMPLETED_IN_IVR, at=now, disposition=step.disposition)
            Call.objects.filter(pk=call.pk).update(disposition=step.disposition or "")
            return twiml.goodbye(" ".join([*spoken, step.text, "Goodbye."]), voice)
        if step.kind == "transfer":
            return _transfer(call=call, step=step, voice=voice, now=now)
        # An operator step reached without a handover: the validator forbids it; hand over anyway.
        return to_queue(tenant=_tenant(), call=call, voice=voice, text=" ".join(spoken), now=now)
    return to_queue(tenant=_tenant(), call=call, voice=voice, text="", now=now)


def _tenant() -> Client:
    """The client company whose schema this flow runs in (set by the webhook's tenant_context)."""
    return connection.tenant


def _transfer(*, call: Call, step: Step, voice: twiml.Voice, now: dt.datetime) -> VoiceResponse:
    specialist = Specialist.objects.filter(key=step.specialist).first()
    if specialist is None:
        return to_queue(tenant=_tenant(), call=call, voice=voice, text="", now=now)
    if not specialist_available(specialist, in_force(TelephonySettings.current(), now), now):
        # Outside the specialist's hours the caller is not rung into nobody: an operator takes the call.
        add_event(call, "transfer_skipped", dedupe=f"transfer_skipped:{specialist.key}", at=now,
                  specialist=specialist.key, reason="outside the specialist's hours")  # fmt: skip
        return to_queue(tenant=_tenant(), call=call, voice=voice, text="", now=now)
    Call.objects.filter(pk=call.pk).update(transferred_to=specialist.key)
    add_event(call, "transfer", dedupe=f"transfer:{specialist.key}", at=now, to=specialist.phone)
    return twiml.transfer(
        voice=voice,
        number=specialist.phone,
        name=specialist.name,
        caller_id=call.to_number,
        action=twiml.url("twilio-dial-result", leg="specialist"),
    )


def transferred(*, call: Call, talk: int | None, now: dt.datetime) -> None:
    """The specialist took the call and talked (their leg completed): the outcome is ``transferred``
    with the talk time, never ``abandoned``. A call the IVR transferred (no operator answered) gets
    the specialist's talk as its talk time; an operator's call keeps its own (answer to end)."""
    add_event(call, "transfer_completed", dedupe="transfer_completed", at=now, specialist=call.transferred_to,
              talk_seconds=talk)  # fmt: skip
    if call.answered_at is None and talk is not None:
        Call.objects.filter(pk=call.pk, talk_seconds__isnull=True).update(talk_seconds=talk)
    set_outcome(call, Call.Outcome.TRANSFERRED, at=now, specialist=call.transferred_to, talk_seconds=talk)


def after_gather(
    *, call: Call, node: str, digits: str, speech: str, now: dt.datetime | None = None
) -> VoiceResponse:
    """The caller answered an automatic node (keys or words), or said nothing."""
    now = now or timezone.now()
    settings = call_setup().settings
    voice = voice_of(settings)
    session = call.script_session
    if session is None or call.outcome:
        return twiml.goodbye("", voice)
    interpreter = interpreter_for(session.version)
    if digits or speech:
        match = interpreter.match(node, digits=digits or None, speech=speech or None)
        if not match.ok:
            misses = add_event(call, "ivr_no_match", at=now, node=node, digits=digits, speech=speech)
            count = call.events.filter(kind="ivr_no_match", data__node=node).count() if misses else 0
            if count < MAX_NO_MATCH:
                step = interpreter.step(contact=session.contact, answers=session.answers, seen=session.seen)
                if step.node == node:
                    return _play_step(
                        call=call, step=step, voice=voice, greeting="Sorry, I did not get that.", now=now
                    )
            value = None
        else:
            value = match.value
    else:
        value = None
    step, error = session_answer(session=session, node_id=node, raw=value, by_name="IVR")
    add_event(call, "ivr_answer", at=now, node=node, value=value, refused=error)
    return _play_step(call=call, step=step, voice=voice, now=now)


def to_queue(*, tenant: Client, call: Call, voice: twiml.Voice, text: str, now: dt.datetime) -> VoiceResponse:
    """Put the call in the tenant's default queue, to wait for an operator (R13)."""
    setup = call_setup()
    queue = setup.queue
    if queue is None:
        add_event(call, "no_queue", dedupe="no_queue", at=now)
        return voicemail(call=call, voice=voice, message=NO_QUEUE_MESSAGE)
    priority = 1 if call.contact and call.contact.vip else 0
    door = routing.door(queue=queue) if call.queued_at is None else None  # full? staffed?
    if door is not None and door.full:
        add_event(call, "queue_full", dedupe="queue_full", at=now, queue=queue.name)
        return twiml.leave_options(voice=voice, action=twiml.url("twilio-leave-choice"))
    if door is not None and not door.staffed:
        # Nobody logged in for the queue (or all on a break): say so at once, never a made-up wait.
        add_event(call, "nobody_staffed", dedupe="nobody_staffed", at=now, queue=queue.name)
        return twiml.leave_options(
            voice=voice,
            action=twiml.url("twilio-leave-choice"),
            text=" ".join(filter(None, [text, NOBODY_STAFFED_MESSAGE])),
        )
    # Marked queued once: the row's lock makes one of two requests at once win (``first``).
    first = call.queued_at is None and mark_queued(
        call, queue_id=queue.pk, queue_name=queue.name, at=now, queue=queue.name, priority=priority
    )
    waiting = routing.enqueue(tenant=tenant, queue=queue, call_sid=call.call_sid, priority=priority, now=now)
    # Offered to an operator in this very transaction: the caller waits for them in the call's
    # conference (the company's hold music), not in Twilio's queue, so there is no place to announce,
    # no wait URL nor queue result to answer, and no caller for the bridge to move (``conferences.
    # bridge``). Should the offer be missed, the call is back in line with its caller in the
    # conference, as after a failed bridge (``conference_exits``: the max-wait exit). A replay of
    # this webhook (or a request at the same time, which waited for the first) answers as it did.
    straight_in = django_settings.CALLS_STRAIGHT_INTO_CONFERENCE
    offered_now = straight_in and first and waiting.state == WaitingCall.State.RESERVED
    if offered_now or (not first and caller_in_conference(call)):
        if offered_now:
            note_caller_in_conference(call, at=now, straight_in=True)
        return caller_conference(call, greeting=text, voice=voice)
    return twiml.enqueue(
        voice=voice,
        text=text,
        queue_name=f"{tenant.schema_name}-{queue.pk}",
        wait_url=twiml.url("twilio-wait"),
        action=twiml.url("twilio-queue-result"),
    )


def wait_turn(*, call: Call, waited: int, now: dt.datetime | None = None) -> VoiceResponse:
    """One wait-URL request: tell the caller where they stand (R18), or leave past the max wait."""
    settings = call_setup().settings
    voice = voice_of(settings)
    queue = routing.rules_for([call.queue_id]).get(call.queue_id) if call.queue_id else None
    if queue is None or waited >= queue.max_wait:
        add_event(call, "max_wait_reached", dedupe="max_wait", waited=waited)
        return twiml.leave_queue()
    standing = routing.turn(call_sid=call.call_sid, queue_id=queue.id)
    if not standing.staffed:
        # Everyone logged out or went on a break meanwhile: tell the caller now and offer the exits.
        add_event(call, "nobody_staffed", dedupe="nobody_staffed", waited=waited)
        return twiml.leave_queue(voice=voice, text=NOBODY_STAFFED_MESSAGE)
    if standing.position == 0:  # out of line a moment ago (an operator is being connected)
        return _wait_music(settings, "Please stay on the line.")
    minutes = max(1, round(standing.seconds / 60))
    text = (
        f"You are number {standing.position} in line. The expected wait is about {minutes} "
        f"minute{'s' if minutes != 1 else ''}. {WAIT_KEY_HINT}"
    )
    return _wait_music(settings, text)


def music_loops(settings: TelephonySettings) -> int:
    """How many times the hold music plays between two announcements: the announcement period
    (``wait_announcement_seconds``) whatever the file's length (``hold_music_seconds``); a file
    longer than the period plays once (TwiML cannot cut a file)."""
    return max(1, round(settings.wait_announcement_seconds / max(1, settings.hold_music_seconds)))


def _wait_music(settings: TelephonySettings, text: str) -> VoiceResponse:
    return twiml.wait_message(
        voice=voice_of(settings),
        text=text,
        hold_music_url=settings.hold_music_url,
        loops=music_loops(settings),
        options_action=twiml.url("twilio-wait-key"),
    )


def wait_key(
    *, call: Call, digits: str, dedupe: str | None = None, now: dt.datetime | None = None
) -> VoiceResponse:
    """A key pressed while waiting: the announced key leaves the queue (for the callback or
    voicemail choice); any other key changes nothing: the caller is reminded, the music goes on."""
    now = now or timezone.now()
    add_event(call, "wait_key", dedupe=dedupe, at=now, digits=digits)
    if digits == WAIT_KEY:
        return twiml.leave_queue()
    return _wait_music(call_setup().settings, f"Sorry, that key does nothing here. {WAIT_KEY_HINT}")


def queue_result(
    *, call: Call, result: str, queue_time: int | None = None, now: dt.datetime | None = None
) -> VoiceResponse:
    """The caller left the queue: bridged (nothing to do), hung up, or asked to leave (options).

    Leaving (for a callback or a message) or hanging up ends the wait: ``wait_seconds`` is Twilio's
    ``QueueTime`` (else the time since the call was queued), not the time until the hang-up."""
    now = now or timezone.now()
    voice = voice_of(call_setup().settings)
    add_event(
        call, "queue_result", dedupe=f"queue_result:{result}", at=now, result=result, queue_time=queue_time
    )
    if result not in {"bridged", "redirected", "bridging-in-process"} and call.queued_at is not None:
        waited = queue_time if queue_time is not None else int((now - call.queued_at).total_seconds())
        Call.objects.filter(pk=call.pk, wait_seconds__isnull=True).update(wait_seconds=max(0, waited))
    if result in {"bridged", "redirected"}:
        return VoiceResponse()
    if result == "hangup":
        return VoiceResponse()
    if callback_offer.in_line(call):  # the place is kept until they choose: a callback may keep it
        return callback_offer.options()
    connected = _leave_or_connect(call, now)
    if connected is not None:
        return connected
    return twiml.leave_options(voice=voice, action=twiml.url("twilio-leave-choice"))


def _leave_or_connect(call: Call, now: dt.datetime) -> VoiceResponse | None:
    """The caller leaves the line, unless an operator took the call as they pressed the key: then
    they join the operator's conference instead (the TwiML returned). The caller's row first, then
    the router's (the bridge's lock order): exactly one of the two wins (issue 23)."""
    with transaction.atomic():
        one(Call.objects.select_for_update().filter(pk=call.pk))
        if routing.leave_line(call_sid=call.call_sid, outcome="left", now=now):
            return None
        add_event(call, "leave_refused", dedupe="leave_refused", at=now, reason="operator connecting")
        note_caller_in_conference(call)  # (once: a replay records nothing)
        return caller_conference(call)


def conference_callbacks(call: Call, settings: TelephonySettings) -> tuple[str, str | None]:
    """The call's conference's status callback and, when the company records calls, its recording's
    (absolute: REST-sent TwiML has no page to resolve them against)."""
    recording = twiml.url("twilio-conference-recording", c=call.pk) if settings.record_calls else None
    return (
        gateway.absolute(twiml.url("twilio-conference", c=call.pk)),
        gateway.absolute(recording) if recording else None,
    )


def caller_conference(call: Call, *, greeting: str = "", voice: twiml.Voice | None = None) -> VoiceResponse:
    """The caller into the call's conference (hold music until the operator joins; the call's
    recording from the operator's join when the company records calls); ``greeting`` said first."""
    settings = settings_now()  # as the operator's leg's
    status_callback, recording_callback = conference_callbacks(call, settings)
    return twiml.conference_caller(
        name=twiml.conference_name(call.call_sid),
        hold_music_url=settings.hold_music_url,
        status_callback=status_callback,
        recording_callback=recording_callback,
        greeting=greeting,
        voice=voice,
    )


def leave_choice(*, call: Call, digits: str, speech: str, now: dt.datetime | None = None) -> VoiceResponse:
    """After leaving the queue: 1 = callback, 2 = voicemail; nothing = voicemail (never dropped).
    A caller still in line is called back keeping their place (``callback_offer``)."""
    now = now or timezone.now()
    settings = call_setup().settings
    voice = voice_of(settings)
    wants_callback = digits == "1" or "call" in speech.lower()
    if wants_callback and callback_offer.in_line(call):
        return callback_offer.ask_number(call=call)
    # Out of line now, unless an operator took the call while the caller chose: then they join them.
    connected = _leave_or_connect(call, now)
    if connected is not None:
        return connected
    if wants_callback:
        book_callback(call=call, reason=Callback.Reason.REQUESTED, now=now, priority=7)
        set_outcome(call, Call.Outcome.CALLBACK_REQUESTED, at=now)
        return twiml.goodbye(
            "Thank you. We will call you back as soon as an operator is free. Goodbye.", voice
        )
    return voicemail(call=call, voice=voice, message="Please leave your message after the tone.")


def callback_number(
    *, call: Call, step: str, digits: str, number: str, tries: int, now: dt.datetime | None = None
) -> VoiceResponse:
    """The caller's answer about the number to call back (``callback_offer.answer``). After too many
    answers we could not use they leave the line for a message (never dropped), unless an operator
    took the call since the dialog last looked: then they join the operator (issue 23)."""
    now = now or timezone.now()
    answered = callback_offer.answer(call=call, step=step, digits=digits, number=number, tries=tries, now=now)
    if answered is not None:
        return answered
    connected = _leave_or_connect(call, now)
    if connected is not None:
        return connected
    voice = voice_of(call_setup().settings)
    return voicemail(call=call, voice=voice, message="Please leave your message after the tone.")


def voicemail(*, call: Call, voice: twiml.Voice, message: str) -> VoiceResponse:
    return twiml.voicemail(
        voice=voice,
        message=message,
        action=twiml.url("twilio-voicemail"),
        recording_callback=twiml.url("twilio-recording"),
    )


def voicemail_done(
    *, call: Call, recording_url: str, seconds: int | None, now: dt.datetime | None = None
) -> VoiceResponse:
    now = now or timezone.now()
    voice = voice_of(call_setup().settings)
    if recording_url:
        Call.objects.filter(pk=call.pk).update(recording_url=recording_url, recording_seconds=seconds)
        set_outcome(call, Call.Outcome.VOICEMAIL, at=now, seconds=seconds)
        return twiml.goodbye("Thank you for your message. Goodbye.", voice)
    return twiml.goodbye("Goodbye.", voice)


def _after_hours(*, call: Call, settings: TelephonySettings, now: dt.datetime) -> VoiceResponse:
    voice = voice_of(settings)
    text = after_hours_text(settings)
    Call.objects.filter(pk=call.pk).update(after_hours=True)
    add_event(call, "after_hours", dedupe="after_hours", at=now, behaviour=settings.after_hours)
    if settings.after_hours == TelephonySettings.AfterHours.QUEUE:
        return to_queue(tenant=_tenant(), call=call, voice=voice, text=text, now=now)
    if settings.after_hours == TelephonySettings.AfterHours.CALLBACK:
        book_callback(call=call, reason=Callback.Reason.AFTER_HOURS, now=now)
        set_outcome(call, Call.Outcome.CALLBACK_REQUESTED, at=now)
        return twiml.goodbye(text, voice)
    return voicemail(call=call, voice=voice, message=text)
