"""Twilio voice webhooks (platform host): thin views, each signed, each run in the tenant's schema.

The incoming call finds its client company by the dialled number; every later URL we hand
Twilio carries the schema in ``t`` (covered by the signature). Replays are safe: a CallSid makes
one call record, and each event is recorded once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django_tenants.utils import tenant_context
from twilio.twiml.voice_response import VoiceResponse

from config.process_cache import ProcessCache
from config.queries import one
from telephony import conferences, evidence, reconcile, twiml
from telephony.calls import flows
from telephony.calls.company import call_setup
from telephony.calls.models import Call
from telephony.calls.records import TwilioCallParams, add_event, record_status, set_outcome, start_inbound
from telephony.models import PhoneNumber, UnservedCall
from telephony.signatures import twilio_fields, twilio_signed, webhook_methods
from telephony.tasks import delay_on_commit, store_recording
from tenants.models import Client
from tenants.resolution import client_for_schema

log = logging.getLogger(__name__)


def _number(to: str) -> PhoneNumber | None:
    """The dialled number with its company (None when the pool has no such number), as it is now."""
    return one(PhoneNumber.objects.select_related("tenant").filter(number=to))


# The dialled number with its company, kept a minute in each process for incoming calls and their
# final status (``_dialled``; a save drops it at once in this process). An incoming call never
# trusts it alone: the statement that records the call checks the number still belongs to that
# company and reads whether it is in service (``records.start_inbound``), so a number moved,
# released or suspended a moment ago is answered as it is now; a number not known here is read
# afresh.
NUMBER_SECONDS = 60.0
NUMBERS: ProcessCache[str, PhoneNumber | None] = ProcessCache(
    ttl=NUMBER_SECONDS, load_one=_number
).invalidate_on_save(PhoneNumber, Client)


def _dialled(to: str) -> PhoneNumber | None:
    """The dialled number with its company: this process's copy (``NUMBERS``) while it says the
    number is assigned, else read afresh. An assigned number leaves its company only through its
    release, after a grace period of days (``NUMBER_RELEASE_GRACE_DAYS``; its company is read-only
    in the admin), so such a copy names the company the number's calls of the last minute belong
    to."""
    number = NUMBERS.get(to)
    if number is None or number.tenant is None or number.state != PhoneNumber.State.ASSIGNED:
        number = _number(to)
    return number


def _tenant_of(request: HttpRequest) -> Client | None:
    """The tenant named by ``t`` in the (signed) URL, else the one owning the dialled number."""
    schema = request.GET.get("t", "")
    if schema:
        return client_for_schema(schema)
    number = _dialled(twilio_fields(request).get("To", ""))
    return number.tenant if number is not None else None


# What the views of a call's webhooks read beside the call: its script run with the script's
# version, and the caller's card (one statement). The wait's turns and the queue's result read
# neither: they load the call's row alone (``related=()``), a third of the CPU of the join.
WITH_SCRIPT = ("script_session__version", "contact")

CallView = Callable[[HttpRequest, Client, Call], HttpResponse]


def webhook(
    view: CallView | None = None, *, related: tuple[str, ...] = WITH_SCRIPT
) -> Callable[[HttpRequest], HttpResponse] | Callable[[CallView], Callable[[HttpRequest], HttpResponse]]:
    """A signed POST about a known call: runs ``view(request, tenant, call)`` in the tenant's schema,
    the call read with ``related``. ``@webhook`` or ``@webhook(related=...)``."""
    if view is None:
        return lambda view: webhook(view, related=related)

    @csrf_exempt
    @webhook_methods
    @twilio_signed
    @wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        tenant = _tenant_of(request)
        if tenant is None:
            return twiml.response(twiml.goodbye(twiml.UNKNOWN_NUMBER_MESSAGE))
        with tenant_context(tenant):
            evidence.keep(request)
            call_sid = twilio_fields(request).get("CallSid", "")
            calls = Call.objects.filter(call_sid=call_sid)
            # (``select_related()`` with no names would follow every non-null foreign key)
            call = one(calls.select_related(*related) if related else calls)
            if call is None:
                log.warning("webhook %s for an unknown call %s", request.path, call_sid)
                return twiml.response(twiml.goodbye(twiml.SORRY_MESSAGE))
            return view(request, tenant, call)

    return wrapper


@csrf_exempt
@webhook_methods
@twilio_signed
def incoming(request: HttpRequest) -> HttpResponse:
    params = TwilioCallParams.from_post(twilio_fields(request))
    if not params.call_sid:
        return HttpResponse("CallSid is required.", status=400, content_type="text/plain")
    response = _answer(request, params, _dialled(params.to_number))
    if response is MOVED:  # the number changed company since this process kept it
        NUMBERS.invalidate()
        response = _answer(request, params, _number(params.to_number))
    # Moved once more between two statements (hardly ever): take a message, as on any failure.
    return fallback_response() if response is MOVED else response


def _answer(
    request: HttpRequest, params: TwilioCallParams, number: PhoneNumber | None
) -> HttpResponse | VoiceResponse:
    """The answer to an incoming call for the number as given; ``MOVED`` when it no longer
    belongs to that company (nothing written, not even the evidence: it is kept by the company
    the number belongs to)."""
    if number is None or number.tenant is None:
        return _unserved(params)
    with tenant_context(number.tenant):
        answer = _first_answer(request, params, number)
    if answer is MOVED:
        return MOVED
    return twiml.response(answer if answer is not None else fallback_twiml())


def _unserved(params: TwilioCallParams) -> HttpResponse:
    log.warning("call %s to a number we do not serve: %s", params.call_sid, params.to_number)
    UnservedCall.objects.get_or_create(
        call_sid=params.call_sid,
        defaults={"from_number": params.from_number, "to_number": params.to_number},
    )
    return twiml.response(twiml.goodbye(twiml.UNKNOWN_NUMBER_MESSAGE))


MOVED = VoiceResponse()  # ``_first_answer``: the number is no longer this company's, nothing written


def _first_answer(
    request: HttpRequest, params: TwilioCallParams, number: PhoneNumber
) -> VoiceResponse | None:
    """The call recorded in the number's company (run in its schema) and its first answer.

    One transaction: the call record with the webhook kept as evidence (one statement) and the
    call's place in the queue commit together (one commit per call). When the first step fails,
    its work is rolled back with the call record, the call is recorded again with the error (and
    the evidence), and this returns None: the caller may leave a message (``fallback_twiml``).
    Only a failing call pays for that second write (a savepoint would cost every call two round
    trips). ``MOVED`` when the number no longer belongs to that company: nothing written, not
    even the evidence."""
    kept = evidence.row(request)
    try:
        with transaction.atomic():
            started = start_inbound(params=params, tenant_id=number.tenant_id, evidence=kept)
            if started is None:
                return MOVED
            if started.created and reconcile.apply_early_status(call=started.call):
                return twiml.goodbye("")  # it ended before this webhook came (issue 22)
            if not started.in_service:
                call = started.call
                add_event(call, "refused_not_in_service", dedupe="not_in_service", state=started.number_state)
                set_outcome(call, Call.Outcome.FAILED, reason="service suspended")
                return twiml.goodbye(twiml.SUSPENDED_MESSAGE)
            return flows.first_step(tenant=number.tenant, call=started.call)
    except Exception:
        log.exception("call %s: the first answer failed", params.call_sid)
    with transaction.atomic():
        started = start_inbound(params=params, tenant_id=number.tenant_id, evidence=kept)
        if started is None:
            return MOVED
        add_event(started.call, "flow_error", dedupe="flow_error")
    return None


@csrf_exempt
@webhook_methods
@twilio_signed
def status(request: HttpRequest) -> HttpResponse:
    """Status callbacks (any order, any number of times): they only ever move a call forward."""
    tenant = _tenant_of(request)
    if tenant is None:
        return HttpResponse(status=204)
    params = TwilioCallParams.from_post(twilio_fields(request))
    with tenant_context(tenant):
        evidence.keep(request)
        call = record_status(params=params)
        if call is None:  # before the call's first webhook: kept (issue 22)
            reconcile.keep_early_status(params=params)
        elif call.ended_at is not None and call.answered_at is None and call.operator_id is not None:
            conferences.hang_up_ringing_legs(call)  # gone while an operator was being connected
    return HttpResponse(status=204)


@webhook
def gather(request: HttpRequest, tenant: Client, call: Call) -> HttpResponse:
    params = TwilioCallParams.from_post(twilio_fields(request))
    node = request.GET.get("node", "")
    return twiml.response(
        flows.after_gather(call=call, node=node, digits=params.digits, speech=params.speech)
    )


@webhook(related=())
def wait(request: HttpRequest, tenant: Client, call: Call) -> HttpResponse:
    waited = twilio_fields(request).get("QueueTime", "0")
    return twiml.response(flows.wait_turn(call=call, waited=int(waited) if waited.isdigit() else 0))


@webhook
def wait_key(request: HttpRequest, tenant: Client, call: Call) -> HttpResponse:
    """The caller pressed a key while waiting (the announced one leaves for the callback/voicemail choice)."""
    # Once per Twilio request (its idempotency token, the same on Twilio's retries), else once per call.
    token = request.headers.get("I-Twilio-Idempotency-Token", "")[:100]
    return twiml.response(
        flows.wait_key(
            call=call,
            digits=twilio_fields(request).get("Digits", ""),
            dedupe=f"wait_key:{token}" if token else "wait_key",
        )
    )


@webhook(related=())
def queue_result(request: HttpRequest, tenant: Client, call: Call) -> HttpResponse:
    fields = twilio_fields(request)
    queue_time = fields.get("QueueTime", "")
    return twiml.response(
        flows.queue_result(
            call=call,
            result=fields.get("QueueResult", ""),
            queue_time=int(queue_time) if queue_time.isdigit() else None,
        )
    )


@webhook
def leave_choice(request: HttpRequest, tenant: Client, call: Call) -> HttpResponse:
    params = TwilioCallParams.from_post(twilio_fields(request))
    return twiml.response(flows.leave_choice(call=call, digits=params.digits, speech=params.speech))


@webhook
def callback_number(request: HttpRequest, tenant: Client, call: Call) -> HttpResponse:
    """The caller's answer about the number to call back (``callback_offer``): confirm or typed."""
    tries = request.GET.get("tries", "0")
    return twiml.response(
        flows.callback_number(
            call=call,
            step=request.GET.get("step", ""),
            digits=twilio_fields(request).get("Digits", ""),
            number=request.GET.get("n", ""),
            tries=int(tries) if tries.isdigit() else 0,
        )
    )


@webhook
def voicemail(request: HttpRequest, tenant: Client, call: Call) -> HttpResponse:
    fields = twilio_fields(request)
    seconds = fields.get("RecordingDuration", "")
    return twiml.response(
        flows.voicemail_done(
            call=call,
            recording_url=fields.get("RecordingUrl", "")[:200],
            seconds=int(seconds) if seconds.isdigit() else None,
        )
    )


@webhook
def recording(request: HttpRequest, tenant: Client, call: Call) -> HttpResponse:
    """Recording status callback: a call recording (R21) or a voicemail is ready."""
    fields = twilio_fields(request)
    seconds = fields.get("RecordingDuration", "")
    if fields.get("RecordingStatus", "completed") == "completed":
        Call.objects.filter(pk=call.pk).update(
            recording_sid=fields.get("RecordingSid", "")[:64],
            recording_url=fields.get("RecordingUrl", "")[:200],
            recording_seconds=int(seconds) if seconds.isdigit() else None,
        )
        if fields.get("RecordingUrl"):
            delay_on_commit(tenant, store_recording, call.pk)  # the audio into its storage (R21)
            reconcile.note_recording()  # looked at until its audio is stored
    add_event(
        call,
        "recording",
        dedupe=f"recording:{fields.get('RecordingSid', '')}",
        status=fields.get("RecordingStatus", ""),
    )
    return HttpResponse(status=204)


@webhook
def dial_result(request: HttpRequest, tenant: Client, call: Call) -> HttpResponse:
    """The bridged leg ended (operator or specialist): record it; the caller's call is over."""
    fields = twilio_fields(request)
    leg = request.GET.get("leg", "operator")
    result = fields.get("DialCallStatus", "")
    talk = fields.get("DialCallDuration", "")
    # A leg's duration is evidence only: talk comes from the call's times (a held call has several
    # legs), except for a call the IVR transferred, which no operator answered.
    dedupe = f"dial:{leg}:{fields.get('DialCallSid', '')}"
    add_event(call, f"dial_result:{leg}", dedupe=dedupe, status=result, duration=talk)
    if leg == "specialist" and result == "completed":
        flows.transferred(call=call, talk=int(talk) if talk.isdigit() else None, now=timezone.now())
    if result == "completed":
        return twiml.response(twiml.goodbye(""))
    if leg == "specialist":
        voice = flows.voice_of(call_setup().settings)
        return twiml.response(
            flows.voicemail(
                call=call,
                voice=voice,
                message="Our specialist is not available. Please leave a message after the tone.",
            )
        )
    # The operator's phone did not answer: the caller goes back to waiting, keeping its place.
    voice = flows.voice_of(call_setup().settings)
    return twiml.response(flows.to_queue(tenant=tenant, call=call, voice=voice, text="", now=timezone.now()))


@csrf_exempt
@webhook_methods
@twilio_signed
def fallback(request: HttpRequest) -> HttpResponse:
    """Twilio's fallback URL: static TwiML (no database) when a webhook failed or timed out (11205)."""
    return fallback_response()


def fallback_response() -> HttpResponse:
    """Say sorry and take a message: the caller is never dropped silently."""
    return twiml.response(fallback_twiml())


def fallback_twiml() -> VoiceResponse:
    """``fallback_response``'s TwiML."""
    return twiml.voicemail(
        voice=twiml.Voice(),
        message=twiml.SORRY_MESSAGE,
        action=twiml.url("twilio-fallback-done"),
        recording_callback=twiml.url("twilio-recording"),
    )


@csrf_exempt
@webhook_methods
@twilio_signed
def fallback_done(request: HttpRequest) -> HttpResponse:
    return twiml.response(twiml.goodbye("Thank you for your message. Goodbye."))
