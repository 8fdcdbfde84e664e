"""Twilio's callbacks about a call's conference: the conference's own (the events asked for,
``twiml.CONFERENCE_EVENTS``: participants joining, its end), each leg's call status (operator,
specialist, supervisor), the conference recording.

Signed like every webhook; each URL carries the schema (``t``) and the call (``c``), covered by
the signature. Replays and any order are safe: every event is recorded once (Twilio's
``SequenceNumber``) and every step in ``telephony.conferences`` is idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial, wraps

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_tenants.utils import tenant_context

from telephony import (
    conferences,
    evidence,
    gateway,
    reconcile,
    recording_pauses,
    supervision,
    transfers,
    twiml,
)
from telephony.calls.models import Call
from telephony.calls.records import EventNote, add_event, call_by_id
from telephony.signatures import named_call, twilio_signed
from telephony.tasks import delay_on_commit, release_caller, store_recording
from tenants.models import Client

log = logging.getLogger(__name__)


def conference_webhook(
    view: Callable[[HttpRequest, Client, Call], HttpResponse],
    *,
    noted: Callable[[HttpRequest], EventNote] | None = None,
) -> Callable[[HttpRequest], HttpResponse]:
    """A signed POST about the call named by ``c``: runs ``view(request, tenant, call)`` in its schema.
    Unknown tenant or call: 204 (nothing to do; Twilio must not retry). ``noted(request)``: the
    call's event this callback records once, written with the call's read and the webhook's
    evidence in one statement (``evidence.keep_noting``), before the view acts on it."""

    @csrf_exempt
    @require_POST
    @twilio_signed
    @wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        named = named_call(request)
        if named is None:
            return HttpResponse(status=204)
        tenant, call_id = named
        with tenant_context(tenant):
            # Kept like every signed webhook of a company's calls (issue 18), once the call is known.
            if noted is not None:
                call = evidence.keep_noting(request, call_id=call_id, note=noted(request))
            elif (call := call_by_id(call_id)) is not None:
                evidence.keep(request)
            if call is None:
                log.warning("conference callback %s for an unknown call %s", request.path, call_id)
                return HttpResponse(status=204)
            return view(request, tenant, call)

    return wrapper


def _conference_event(request: HttpRequest) -> EventNote:
    post = request.POST
    event, leg_sid = post.get("StatusCallbackEvent", ""), post.get("CallSid", "")[:64]
    dedupe = (
        f"conference:{post.get('ConferenceSid', '')[:64]}:{post.get('SequenceNumber', '')}:{event}:{leg_sid}"
    )
    data = {
        "label": post.get("ParticipantLabel", ""),
        "call_sid": leg_sid,
        "hold": post.get("Hold", ""),
        "muted": post.get("Muted", ""),
        # for the requests about the conference (``conferences.conference_sid``)
        "sid": post.get("ConferenceSid", "")[:64],
    }
    return f"conference:{event}"[:32], dedupe, data


def _leg_event(request: HttpRequest) -> EventNote:
    reservation, status = request.GET.get("r", ""), request.POST.get("CallStatus", "")
    leg_sid = request.POST.get("CallSid", "")[:64]
    return (
        "leg_status",
        f"leg_status:{reservation or leg_sid}:{status}",
        {"status": status, "call_sid": leg_sid},
    )


@partial(conference_webhook, noted=_conference_event)
def conference_status(request: HttpRequest, tenant: Client, call: Call) -> HttpResponse:
    """The conference's status callback (``StatusCallbackEvent``: conference-start, participant-join…),
    recorded as the call's event (``_conference_event``)."""
    post = request.POST
    event = post.get("StatusCallbackEvent", "")
    label = post.get("ParticipantLabel", "")
    leg_sid = post.get("CallSid", "")[:64]
    # A participant's leaving is not asked for (``twiml.CONFERENCE_EVENTS``): each leg's end comes
    # on its own status callback, the caller's with the conference's end. A supervisor's join is
    # not acted on (their session is open already), nor is the caller's.
    if event == "participant-join" and label.startswith(transfers.SPECIALIST_PREFIX):
        transfers.specialist_joined(call=call, label=label)
    elif event == "participant-join":
        conferences.participant_joined(call=call, label=label, leg_sid=leg_sid)
    # Joined muted: set up by the version before 2026-12-05 (no join of this one is muted).
    attempt = conferences.attempt_of(label)
    muted = event == "participant-join" and post.get("Muted") == "true"
    if muted and (attempt is not None or label == twiml.CALLER_LABEL):
        delay_on_commit(tenant, release_caller, call.pk, attempt, "joined muted (earlier version)")
    if event == "conference-end":
        supervision.call_ended(call=call)
        # The recording ends with the conference: a pause still open ends here, not resumed.
        recording_pauses.close_open_pause(call=call, reason="the call ended while the recording was paused")
    return HttpResponse(status=204)


@partial(conference_webhook, noted=_leg_event)
def leg_status(request: HttpRequest, tenant: Client, call: Call) -> HttpResponse:
    """The operator's leg's call status (``r``: the offer it connects), recorded as the call's event
    (``_leg_event``): a failure re-routes the call."""
    reservation = request.GET.get("r", "")
    status = request.POST.get("CallStatus", "")
    supervisor = request.GET.get("s", "")
    if request.GET.get("leg") == "supervisor" and supervisor.isdigit():
        if status in supervision.LEG_FAILED or status == "completed":
            leg_sid = request.POST.get("CallSid", "")
            reason = f"supervisor's line {status}"
            supervision.left(call=call, supervisor_id=int(supervisor), leg_sid=leg_sid, reason=reason)
    elif request.GET.get("leg") == "specialist":
        if status in conferences.FAILED_LEG:
            transfers.cancel(call=call, reason=f"specialist {status}")
    elif reservation.isdigit():
        conferences.leg_status(call=call, reservation_id=int(reservation), status=status)
    return HttpResponse(status=204)


@conference_webhook
def recording(request: HttpRequest, tenant: Client, call: Call) -> HttpResponse:
    """The conference's recording is ready (one file per call, from the operator's join to the end).
    A recording of another conference of the same name is not the call's: the operator's join
    opened it anew after the caller had left (an empty line); it is deleted at Twilio."""
    post = request.POST
    seconds = post.get("RecordingDuration", "")
    recorded, ours = post.get("ConferenceSid", ""), conferences.conference_sid(call)
    if recorded and ours and recorded != ours:
        stray = post.get("RecordingSid", "")[:64]
        add_event(
            call, "stray_recording", dedupe=f"stray_recording:{stray}", recording=stray, conference=recorded
        )
        transaction.on_commit(lambda: _delete_stray(stray))
        return HttpResponse(status=204)
    if post.get("RecordingStatus", "completed") == "completed" and post.get("RecordingUrl"):
        Call.objects.filter(pk=call.pk).update(
            recording_sid=post.get("RecordingSid", "")[:64],
            recording_url=post.get("RecordingUrl", "")[:200],
            recording_seconds=int(seconds) if seconds.isdigit() else None,
        )
        delay_on_commit(tenant, store_recording, call.pk)
        reconcile.note_recording()  # looked at until its audio is stored
        recording_pauses.close_open_pause(call=call, reason="the recording ended while paused")
    add_event(call, "recording", dedupe=f"recording:{post.get('RecordingSid', '')}",
              status=post.get("RecordingStatus", ""), conference=post.get("ConferenceSid", ""))  # fmt: skip
    return HttpResponse(status=204)


def _delete_stray(recording_sid: str) -> None:
    if not recording_sid:
        return
    try:
        gateway.delete_recording(recording_sid=recording_sid)
    except gateway.TwilioUnavailable:
        log.warning("could not delete the stray recording %s now: delete it at Twilio", recording_sid)
