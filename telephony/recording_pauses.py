"""PCI: the call's recording paused while the caller gives card data, and resumed after (R21).

The conference's recording is paused through Twilio's recording update (``Status=paused``,
``PauseBehavior=skip``: the paused part is left out of the file) and resumed (``in-progress``).
Every change is a call event saying who, when, why; a pause is closed by a ``recording_resumed``
(with the seconds paused), or, when the call ended or was handed over while paused, by an event
that says so: a paused recording is never resumed, or left paused, without the events telling.

States are read back from the events (the last of ``recording_paused`` / ``recording_resumed`` /
``recording_pause_closed``), so a console that reloads sees the pause as it stands.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from config.queries import one
from telephony import conferences, gateway
from telephony.calls.models import Call, CallEvent, TelephonySettings
from telephony.calls.records import add_event

log = logging.getLogger(__name__)

PAUSED = "recording_paused"
RESUMED = "recording_resumed"
CLOSED = "recording_pause_closed"  # the call ended (or the recording did) while paused
PAUSE_FAILED = "recording_pause_failed"
RESUME_FAILED = "recording_resume_failed"
STILL_PAUSED = "recording_still_paused"  # a change to the call (transfer, reconnect) kept the pause
STATE_KINDS = (PAUSED, RESUMED, CLOSED)
# Twilio answered 429/5xx or not at all: the same update is sent again after these pauses (seconds).
RETRY_DELAYS = (0.3, 1.0)


class PauseRefused(Exception):
    """The recording could not be paused or resumed now; the message is for the operator."""


def _state_event(call: Call) -> CallEvent | None:
    return call.events.filter(kind__in=STATE_KINDS).order_by("-at", "-pk").first()


def open_pause(call: Call) -> CallEvent | None:
    """The ``recording_paused`` event of the pause in force now, or None when recording (or over)."""
    last = _state_event(call)
    return last if last is not None and last.kind == PAUSED else None


def is_paused(call: Call) -> bool:
    return open_pause(call) is not None


def recording_state(call: Call) -> dict[str, object]:
    """What the console shows: whether the call is recorded at all, paused now, since when, by whom."""
    recorded = TelephonySettings.current().record_calls
    pause = open_pause(call) if recorded else None
    return {
        "recorded": recorded,
        "paused": pause is not None,
        "paused_since": pause.at.isoformat() if pause else None,
        "paused_by": pause.data.get("by", "") if pause else "",
        "reason": pause.data.get("reason", "") if pause else "",
    }


def _send(call: Call, status: str) -> gateway.Answer:
    """One recording update, sent again after 429/5xx/timeouts (the update is idempotent)."""
    sid = conferences.conference_sid(call)
    if not sid:  # an outbound call is bridged by <Dial>, not a conference: its recording is not ours to pause
        raise PauseRefused(
            "This call's recording cannot be paused: it is not connected through a conference."
        )
    for delay in (*RETRY_DELAYS, None):
        try:
            return gateway.update_recording(conference_sid=sid, status=status)
        except gateway.TwilioUnavailable as exc:
            if delay is None:
                raise PauseRefused("Twilio is not answering right now; please try again.") from exc
            log.info("call %s: %s; again in %.1f s", call.call_sid, exc, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def _check_live(call: Call) -> None:
    if not TelephonySettings.current().record_calls:
        raise PauseRefused("This company's calls are not recorded.")
    if call.answered_at is None or call.ended_at is not None:
        raise PauseRefused("Only a connected call's recording can be paused.")


def _why(answer: gateway.Answer) -> str:
    if answer is gateway.Answer.GONE:
        return "The call or its recording is over."
    return "Twilio refused the change; please try again."


def pause(*, call: Call, by: str, reason: str = "operator", now: dt.datetime | None = None) -> bool:
    """Pause the call's recording (True; False when it was paused already). On any failure the
    recording goes on, a ``recording_pause_failed`` event says so and ``PauseRefused`` is raised."""
    _check_live(call)
    if is_paused(call):
        return False
    try:
        answer = _send(call, "paused")
    except PauseRefused as refused:
        add_event(call, PAUSE_FAILED, by=by, reason=reason, error=str(refused))
        raise
    if answer is not gateway.Answer.DONE:
        add_event(call, PAUSE_FAILED, by=by, reason=reason, error=answer.value)
        raise PauseRefused(_why(answer) + " The recording was NOT paused.")
    with transaction.atomic():
        one(Call.objects.select_for_update().filter(pk=call.pk))
        if is_paused(call):  # paused by someone else meanwhile (a sensitive step and a click)
            return False
        add_event(call, PAUSED, at=now or timezone.now(), by=by, reason=reason)
    return True


def resume(*, call: Call, by: str, reason: str = "operator", now: dt.datetime | None = None) -> bool:
    """Resume the call's recording (True; False when it was not paused). When Twilio does not take
    it the recording stays paused, a ``recording_resume_failed`` event says so, ``PauseRefused``."""
    pause_event = open_pause(call)
    if pause_event is None:
        return False
    try:
        answer = _send(call, "in-progress")
    except PauseRefused as refused:
        add_event(call, RESUME_FAILED, by=by, reason=reason, error=str(refused))
        raise
    if answer is not gateway.Answer.DONE:
        add_event(call, RESUME_FAILED, by=by, reason=reason, error=answer.value)
        raise PauseRefused(_why(answer) + " The recording is still paused.")
    now = now or timezone.now()
    with transaction.atomic():
        one(Call.objects.select_for_update().filter(pk=call.pk))
        if open_pause(call) is None:
            return False
        seconds = round((now - pause_event.at).total_seconds(), 3)
        add_event(
            call,
            RESUMED,
            at=now,
            by=by,
            reason=reason,
            seconds=seconds,
            paused_by=pause_event.data.get("by", ""),
        )
    return True


def close_open_pause(*, call: Call, reason: str, now: dt.datetime | None = None) -> bool:
    """The call (or its recording) ended while paused: the pause ends here, unresumed, and says why."""
    pause_event = open_pause(call)
    if pause_event is None:
        return False
    now = now or timezone.now()
    seconds = round(max(0.0, (now - pause_event.at).total_seconds()), 3)
    return add_event(
        call, CLOSED, dedupe=f"{CLOSED}:{pause_event.pk}", at=now, reason=reason, seconds=seconds,
        paused_by=pause_event.data.get("by", ""),
    )  # fmt: skip


def note_still_paused(*, call: Call, reason: str, by: str = "") -> bool:
    """Something happened to the call (a transfer, the console reconnecting) and the recording was
    left paused on purpose: say so once per pause and reason."""
    pause_event = open_pause(call)
    if pause_event is None:
        return False
    key = f"{STILL_PAUSED}:{pause_event.pk}:{reason}"[:150]
    return add_event(call, STILL_PAUSED, dedupe=key, reason=reason, by=by, since=pause_event.at.isoformat())


@dataclass(frozen=True)
class PauseInterval:
    """One pause: when (wall clock), where it sits in the recorded file, how long, by whom, how it ended."""

    started_at: dt.datetime
    ended_at: dt.datetime | None
    seconds: float | None
    offset_seconds: float  # the point in the file where the pause was (the paused part is skipped)
    by: str
    reason: str
    ended_by: str  # "resumed by …", or why it ended without a resume
    resumed_by: str = ""  # who resumed it (empty when it ended without a resume)


def recording_started_at(call: Call) -> dt.datetime | None:
    """When the conference (and its ``record-from-start`` recording) started: the operator's join,
    which answers the call. Calls recorded before 2026-12-05 kept Twilio's ``conference-start``."""
    start = call.events.filter(kind="conference:conference-start").order_by("at").values_list("at", flat=True)
    return start.first() or call.answered_at


def pause_intervals(call: Call) -> list[PauseInterval]:
    """The call's recording pauses in order, placed on the recorded file's timeline."""
    start = recording_started_at(call)
    intervals: list[PauseInterval] = []
    skipped = 0.0
    current: CallEvent | None = None
    for event in call.events.filter(kind__in=STATE_KINDS).order_by("at", "pk"):
        if event.kind == PAUSED and current is None:
            current = event
        elif event.kind in (RESUMED, CLOSED) and current is not None:
            seconds = float(event.data.get("seconds") or (event.at - current.at).total_seconds())
            resumed_by = event.data.get("by", "") if event.kind == RESUMED else ""
            if event.kind == RESUMED:
                ended_by = f"resumed by {resumed_by} ({event.data.get('reason', '')})"
            else:
                ended_by = event.data.get("reason", "")
            interval = _interval(current, event.at, seconds, start, skipped, ended_by)
            intervals.append(dataclasses.replace(interval, resumed_by=resumed_by))
            skipped += seconds
            current = None
    if current is not None:
        intervals.append(_interval(current, None, None, start, skipped, ""))
    return intervals


def _interval(
    pause: CallEvent, ended: dt.datetime | None, seconds: float | None, start: dt.datetime | None,
    skipped: float, ended_by: str,
) -> PauseInterval:  # fmt: skip
    offset = max(0.0, (pause.at - start).total_seconds() - skipped) if start else 0.0
    return PauseInterval(
        started_at=pause.at, ended_at=ended, seconds=seconds, offset_seconds=round(offset, 3),
        by=pause.data.get("by", ""), reason=pause.data.get("reason", ""), ended_by=ended_by,
    )  # fmt: skip
