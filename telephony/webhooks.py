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
from django.views.decorators.http import require_POST
from django_tenants.utils import tenant_context
from twilio.twiml.voice_response import VoiceResponse

from telephony import evidence, twiml
from telephony.calls import flows
from telephony.calls.company import call_setup
from telephony.calls.models import Call
from telephony.calls.records import TwilioCallParams, add_event, record_status, set_outcome, start_inbound
from telephony.models import PhoneNumber, UnservedCall
from telephony.signatures import twilio_signed
from telephony.tasks import store_recording
from tenants.models import Client

log = logging.getLogger(__name__)


def _number(to: str) -> PhoneNumber | None:
    """The dialled number with its company (None when the pool has no such number).

    Read on every call, never kept: a number moved, released or suspended a moment ago is
    answered as it is now, never for the company it had."""
    return PhoneNumber.objects.select_related("tenant").filter(number=to).first()


def _tenant_of(request: HttpRequest) -> Client | None:
    """The tenant named by ``t`` in the (signed) URL, else the one owning the dialled number."""
    schema = request.GET.get("t", "")
    if schema:
        return Client.objects.companies().filter(schema_name=schema).first()
    number = _number(request.POST.get("To", ""))
    return number.tenant if number is not None else None


def webhook(
    view: Callable[[HttpRequest, Client, Call], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """A signed POST about a known call: runs ``view(request, tenant, call)`` in the tenant's schema."""

    @csrf_exempt
    @require_POST
    @twilio_signed
    @wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        tenant = _tenant_of(request)
        if tenant is None:
            return twiml.response(twiml.goodbye(twiml.UNKNOWN_NUMBER_MESSAGE))
        with tenant_context(tenant):
            evidence.keep(request)
            call = (
                Call.objects.select_related("script_session__version", "contact")
                .filter(call_sid=request.POST.get("CallSid", ""))
                .first()
            )
            if call is None:
                log.warning("webhook %s for an unknown call %s", request.path, request.POST.get("CallSid"))
                return twiml.response(twiml.goodbye(twiml.SORRY_MESSAGE))
            return view(request, tenant, call)

    return wrapper


@csrf_exempt
@require_POST
@twilio_signed
def incoming(request: HttpRequest) -> HttpResponse:
    params = TwilioCallParams.from_post(request.POST)
    if not params.call_sid:
        return HttpResponse("CallSid is required.", status=400, content_type="text/plain")
    number = _number(params.to_number)
    if number is None or number.tenant is None:
        return _unserved(params)
    with tenant_context(number.tenant):
        evidence.keep(request)
        answer = _first_answer(params, number)
    return twiml.response(answer if answer is not None else fallback_twiml())


def _unserved(params: TwilioCallParams) -> HttpResponse:
    log.warning("call %s to a number we do not serve: %s", params.call_sid, params.to_number)
    UnservedCall.objects.get_or_create(
        call_sid=params.call_sid,
        defaults={"from_number": params.from_number, "to_number": params.to_number},
    )
    return twiml.response(twiml.goodbye(twiml.UNKNOWN_NUMBER_MESSAGE))


def _first_answer(params: TwilioCallParams, number: PhoneNumber) -> VoiceResponse | None:
    """The call recorded in the number's company (run in its schema) and its first answer.

    One transaction: the call record and its place in the queue commit together. When the first
    step fails, its own work is rolled back (a savepoint) but the call is kept, with the error,
    and this returns None: the caller may leave a message (``fallback_twiml``)."""
    with transaction.atomic():
        call, _ = start_inbound(params=params)
        if not number.in_service:
            add_event(call, "refused_not_in_service", dedupe="not_in_service", state=number.state)
            set_outcome(call, Call.Outcome.FAILED, reason="service suspended")
            return twiml.goodbye(twiml.SUSPENDED_MESSAGE)
        try:
            with transaction.atomic():
                return flows.first_step(tenant=number.tenant, call=call)
        except Exception:
            log.exception("call %s: the first step failed", params.call_sid)
            add_event(call, "flow_error", dedupe="flow_error")
            return None


@csrf_exempt
@require_POST
@twilio_signed
def status(request: HttpRequest) -> HttpResponse:
    """Status callbacks (any order, any number of times): they only ever move a call forward."""
    tenant = _tenant_of(request)
    if tenant is None:
        return HttpResponse(status=204)
    with tenant_context(tenant):
        evidence.keep(request)
        record_status(params=TwilioCallParams.from_post(request.POST))
    return HttpResponse(status=204)


@webhook
def gather(request: HttpRequest, tenant: Client, call: Call) -> HttpResponse:
    params = TwilioCallParams.from_post(request.POST)
    node = request.GET.get("node", "")
    return twiml.response(
        flows.after_gather(call=call, node=node, digits=params.digits, speech=params.speech)
    )


@webhook
def wait(request: HttpRequest, tenant: Client, call: Call) -> HttpResponse:
    waited = request.POST.get("QueueTime", "0")
    return twiml.response(flows.wait_turn(call=call, waited=int(waited) if waited.isdigit() else 0))


@webhook
def wait_key(request: HttpRequest, tenant: Client, call: Call) -> HttpResponse:
    """The caller pressed a key while waiting: leave the queue for the callback/voicemail choice."""
    add_event(call, "wait_key", digits=request.POST.get("Digits", ""))
    return twiml.response(twiml.leave_queue())


@webhook
def queue_result(request: HttpRequest, tenant: Client, call: Call) -> HttpResponse:
    return twiml.response(flows.queue_result(call=call, result=request.POST.get("QueueResult", "")))


@webhook
def leave_choice(request: HttpRequest, tenant: Client, call: Call) -> HttpResponse:
    params = TwilioCallParams.from_post(request.POST)
    return twiml.response(flows.leave_choice(call=call, digits=params.digits, speech=params.speech))


@webhook
def voicemail(request: HttpRequest, tenant: Client, call: Call) -> HttpResponse:
    seconds = request.POST.get("RecordingDuration", "")
    return twiml.response(
        flows.voicemail_done(
            call=call,
            recording_url=request.POST.get("RecordingUrl", "")[:200],
            seconds=int(seconds) if seconds.isdigit() else None,
        )
    )


def _store_recording_on_commit(tenant: Client, call_id: int) -> None:
    """Fetch the audio into the tenant's storage once the call row says where it is (R21)."""

    def send() -> None:
        with tenant_context(tenant):
            store_recording.delay(call_id)

    transaction.on_commit(send)


@webhook
def recording(request: HttpRequest, tenant: Client, call: Call) -> HttpResponse:
    """Recording status callback: a call recording (R21) or a voicemail is ready."""
    seconds = request.POST.get("RecordingDuration", "")
    if request.POST.get("RecordingStatus", "completed") == "completed":
        Call.objects.filter(pk=call.pk).update(
            recording_sid=request.POST.get("RecordingSid", "")[:64],
            recording_url=request.POST.get("RecordingUrl", "")[:200],
            recording_seconds=int(seconds) if seconds.isdigit() else None,
        )
        if request.POST.get("RecordingUrl"):
            _store_recording_on_commit(tenant, call.pk)
    add_event(
        call,
        "recording",
        dedupe=f"recording:{request.POST.get('RecordingSid', '')}",
        status=request.POST.get("RecordingStatus", ""),
    )
    return HttpResponse(status=204)


@webhook
def dial_result(request: HttpRequest, tenant: Client, call: Call) -> HttpResponse:
    """The bridged leg ended (operator or specialist): record it; the caller's call is over."""
    leg = request.GET.get("leg", "operator")
    result = request.POST.get("DialCallStatus", "")
    talk = request.POST.get("DialCallDuration", "")
    # A leg's duration is evidence only: talk comes from the call's times (a held call has several legs).
    dedupe = f"dial:{leg}:{request.POST.get('DialCallSid', '')}"
    add_event(call, f"dial_result:{leg}", dedupe=dedupe, status=result, duration=talk)
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
@require_POST
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
@require_POST
@twilio_signed
def fallback_done(request: HttpRequest) -> HttpResponse:
    return twiml.response(twiml.goodbye("Thank you for your message. Goodbye."))
