"""Live supervision of a call (R21): a supervisor listens (muted), whispers (``Coaching``: only the
operator hears) or barges (both hear), switches between them during the call, and leaves, all
through a participant of the call's conference that nobody hears arrive or go (no beep; it neither
starts nor ends the conference).

Only Twilio's answer writes anything: a request refused or unanswered (429, 5xx, timeout) leaves
the session as it was and the message says so (``SupervisionRefused``), never a half state. Every
start, switch and stop is a call event in the company's schema (who, when, which mode); the open
session lives in ``Monitoring`` (public, beside the router's rows). The call's end, the
supervisor's leg failing or leaving closes it (``telephony.conference_webhooks``).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from config.queries import json_key, one
from telephony import conferences, gateway, twiml
from telephony.calls.models import Call, CallEvent
from telephony.calls.records import add_event
from telephony.routing_models import WaitingCall
from telephony.supervision_models import MonitorDevice, Monitoring, MonitorMode, SupervisorProfile
from tenants.phones import is_e164

log = logging.getLogger(__name__)
SUPERVISOR_PREFIX = "supervisor-"
EVENT_KINDS = ("supervision_start", "supervision_switch", "supervision_stop")
LEG_FAILED = frozenset({"no-answer", "busy", "failed", "canceled"})


class SupervisionRefused(Exception):
    """The supervision request cannot be done now; the message is for the supervisor."""


def supervisor_identity(user_id: int) -> str:
    """The supervisor's browser phone as Twilio knows it (their Voice SDK token carries it)."""
    return f"supervisor-{user_id}"


def supervisor_label(user_id: int) -> str:
    """The supervisor's participant label in a conference (one open session per supervisor)."""
    return f"{SUPERVISOR_PREFIX}{user_id}"


def supervisor_of(label: str) -> int | None:
    rest = label.removeprefix(SUPERVISOR_PREFIX)
    return int(rest) if label.startswith(SUPERVISOR_PREFIX) and rest.isdigit() else None


def set_phone(*, supervisor, phone: str) -> str:
    """The supervisor's own number for monitoring (E.164); empty clears it."""
    phone = phone.strip()
    if phone and not is_e164(phone):
        raise SupervisionRefused("A number in E.164 form, e.g. +15550100100.")
    SupervisorProfile.objects.update_or_create(user=supervisor, defaults={"phone": phone})
    return phone


def phone_of(supervisor) -> str:
    return SupervisorProfile.objects.filter(user=supervisor).values_list("phone", flat=True).first() or ""


def open_session(supervisor) -> Monitoring | None:
    return (
        Monitoring.objects.select_related("call__tenant").filter(supervisor=supervisor, ended_at=None).first()
    )


def _mode(mode: str) -> str:
    if mode not in MonitorMode.values:
        raise SupervisionRefused("Choose listen, whisper or barge.")
    return mode


def _live(waiting: WaitingCall) -> tuple[Call, str, str]:
    """The company's call, its conference SID and the operator's leg CallSid; refused unless the
    call is connected to an operator now (call with ``tenant_context`` set)."""
    call = one(Call.objects.filter(call_sid=waiting.call_sid))
    attempt = conferences.current_attempt(waiting.pk)
    if call is None or call.answered_at is None or call.ended_at is not None or attempt is None:
        raise SupervisionRefused("This call is not connected to an operator now.")
    sid = conferences.conference_sid(call)
    placed = call.events.filter(dedupe_key=f"{call.call_sid}:leg:{attempt.reservation.pk}")
    leg = json_key(placed.values_list("data", flat=True).first(), "call_sid")  # (``config.queries.json_key``)
    if not sid or not leg:
        raise SupervisionRefused("This call is not connected to an operator now.")
    return call, sid, leg


def _changes(mode: str, operator_leg: str) -> dict[str, object]:
    if mode == MonitorMode.WHISPER:
        return {"muted": False, "coaching": True, "call_sid_to_coach": operator_leg}
    return {"muted": mode == MonitorMode.LISTEN, "coaching": False}


def _sent(answer: gateway.Answer) -> None:
    if answer is gateway.Answer.GONE:
        raise SupervisionRefused("The call has ended.")
    if answer is gateway.Answer.REFUSED:
        raise SupervisionRefused("Twilio refused the request; the call is as it was.")


def _unavailable() -> SupervisionRefused:
    return SupervisionRefused("Twilio is not answering right now; nothing changed, please try again.")


def _event(call: Call, kind: str, session: Monitoring, at: dt.datetime, **extra: object) -> None:
    add_event(call, kind, at=at, supervisor=session.supervisor_name, mode=session.mode, device=session.device,
              **extra)  # fmt: skip


def start(
    *, supervisor, waiting_call_id: int, mode: str, device: str, now: dt.datetime | None = None
) -> Monitoring:
    """Join a live call in ``mode`` from the browser phone or the supervisor's own number; on the
    call already, switch mode instead."""
    mode = _mode(mode)
    if device not in MonitorDevice.values:
        raise SupervisionRefused("Choose the browser phone or your phone number.")
    current = open_session(supervisor)
    if current is not None and current.call.state != WaitingCall.State.BRIDGED:  # its end was not reported
        with tenant_context(current.call.tenant):
            _close(current, reason="call ended", now=now)
        current = None
    if current is not None and current.call_id == waiting_call_id:
        return switch(supervisor=supervisor, mode=mode, now=now)
    if current is not None:
        raise SupervisionRefused("Leave the call you are monitoring first.")
    waiting = one(WaitingCall.objects.select_related("tenant").filter(pk=waiting_call_id))
    if waiting is None or waiting.state != WaitingCall.State.BRIDGED:
        raise SupervisionRefused("This call is not connected to an operator now.")
    phone = phone_of(supervisor) if device == MonitorDevice.PHONE else ""
    if device == MonitorDevice.PHONE and not phone:
        raise SupervisionRefused("Save your phone number first.")
    with tenant_context(waiting.tenant):
        call, _, operator_leg = _live(waiting)
        identity = f"client:{supervisor_identity(supervisor.pk)}"
        changes = _changes(mode, operator_leg)
        try:
            answer, leg_sid = gateway.add_monitor(
                conference=conferences.conference_name(call.call_sid),
                to=phone or identity,
                from_=call.to_number if phone else identity,
                label=supervisor_label(supervisor.pk),
                status_callback=gateway.absolute(
                    twiml.url("twilio-conference-leg", c=call.pk, leg="supervisor", s=supervisor.pk)
                ),
                muted=bool(changes["muted"]),
                coaching=bool(changes["coaching"]),
                call_sid_to_coach=str(changes.get("call_sid_to_coach", "")),
            )
        except gateway.TwilioUnavailable as exc:
            raise _unavailable() from exc
        _sent(answer)
        now = now or timezone.now()
        try:
            with transaction.atomic():
                session = Monitoring.objects.create(
                    call=waiting,
                    supervisor=supervisor,
                    supervisor_name=supervisor.get_full_name() or supervisor.username,
                    mode=mode,
                    device=device,
                    leg_sid=leg_sid,
                    started_at=now,
                )
                _event(call, "supervision_start", session, now)
        except IntegrityError as exc:  # the same supervisor started another session meanwhile
            _hang_up(leg_sid)
            raise SupervisionRefused("Leave the call you are monitoring first.") from exc
    return session


def switch(*, supervisor, mode: str, now: dt.datetime | None = None) -> Monitoring:
    """Change the open session's mode (participant update); unchanged unless Twilio took it."""
    mode = _mode(mode)
    session = open_session(supervisor)
    if session is None:
        raise SupervisionRefused("You are not monitoring a call.")
    if session.mode == mode:
        return session
    with tenant_context(session.call.tenant):
        try:
            call, sid, operator_leg = _live(session.call)
        except SupervisionRefused:
            _close(session, reason="call ended", now=now)
            raise
        try:
            answer = gateway.update_participant(
                conference_sid=sid,
                participant=supervisor_label(supervisor.pk),
                **_changes(mode, operator_leg),
            )
        except gateway.TwilioUnavailable as exc:
            raise _unavailable() from exc
        if answer is gateway.Answer.GONE:
            _close(session, reason="left", now=now)
        _sent(answer)
        now = now or timezone.now()
        with transaction.atomic():
            previous = session.mode
            Monitoring.objects.filter(pk=session.pk).update(mode=mode)
            session.mode = mode
            _event(call, "supervision_switch", session, now, previous=previous)
    return session


def stop(*, supervisor, now: dt.datetime | None = None) -> Monitoring | None:
    """Leave the call unnoticed (the participant is removed; the conference goes on)."""
    session = open_session(supervisor)
    if session is None:
        return None
    with tenant_context(session.call.tenant):
        call = one(Call.objects.filter(call_sid=session.call.call_sid))
        sid = conferences.conference_sid(call) if call else ""
        if sid:
            try:
                answer = gateway.remove_participant(
                    conference_sid=sid, participant=supervisor_label(supervisor.pk)
                )
            except gateway.TwilioUnavailable as exc:
                raise _unavailable() from exc
            if answer is gateway.Answer.REFUSED:
                raise SupervisionRefused("Twilio refused the request; you are still on the call.")
        _close(session, reason="left", now=now)
    return session


def _close(session: Monitoring, *, reason: str, now: dt.datetime | None = None) -> bool:
    """End an open session and write its stop event once (inside the company's schema)."""
    now = now or timezone.now()
    with transaction.atomic():
        closed = Monitoring.objects.filter(pk=session.pk, ended_at=None).update(
            ended_at=now, end_reason=reason
        )
        call = one(Call.objects.filter(call_sid=session.call.call_sid))
        if closed and call is not None:
            _event(call, "supervision_stop", session, now, reason=reason)
    return bool(closed)


def _hang_up(leg_sid: str) -> None:
    if leg_sid:
        try:
            gateway.hang_up(call_sid=leg_sid)
        except gateway.TwilioUnavailable:
            log.warning("could not hang up the supervisor's leg %s; it stays until the call ends", leg_sid)


def left(
    *, call: Call, supervisor_id: int, leg_sid: str, reason: str, now: dt.datetime | None = None
) -> bool:
    """The supervisor's leg left the call's conference or failed: their session on it is over
    (a late callback of an earlier leg of theirs leaves a newer session alone)."""
    session = Monitoring.objects.filter(
        call__call_sid=call.call_sid, supervisor_id=supervisor_id, ended_at=None
    ).first()
    if session is None or (leg_sid and session.leg_sid and leg_sid != session.leg_sid):
        return False
    return _close(session, reason=reason, now=now)


def call_ended(*, call: Call, now: dt.datetime | None = None) -> int:
    """The call's conference ended: every session on it is over."""
    sessions = Monitoring.objects.filter(call__call_sid=call.call_sid, ended_at=None)
    return sum(_close(session, reason="call ended", now=now) for session in sessions)


def events_of(call: Call) -> list[CallEvent]:
    """The call's supervision history, for its detail pages."""
    return list(call.events.filter(kind__in=EVENT_KINDS).order_by("at", "pk"))
