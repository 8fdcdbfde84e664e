"""Twilio voice webhooks (platform host): thin views, each signed, each run in the tenant's schema.

The incoming call finds its client company by the dialled number; every later URL we hand
Twilio carries the schema in ``t`` (covered by the signature). Replays are safe: a CallSid makes
one call record, and each event is recorded once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import wraps

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_tenants.utils import tenant_context

from telephony import twiml
from telephony.calls import flows
from telephony.calls.models import Call
from telephony.calls.records import TwilioCallParams, add_event, record_status, set_outcome, start_inbound
from telephony.models import PhoneNumber, UnservedCall
from telephony.rows import columns, load
from telephony.signatures import twilio_signed
from tenants.models import Client

log = logging.getLogger(__name__)


# The number and its company in one statement written once (compiling the ORM's join cost more
# than running it, on the path of every incoming call).
NUMBER_SQL = f"""
SELECT {columns(PhoneNumber)}, {columns(Client)}
FROM public.telephony_phonenumber
LEFT JOIN public.tenants_client ON "tenants_client"."id" = "telephony_phonenumber"."tenant_id"
WHERE "telephony_phonenumber"."number" = %s
"""  # noqa: S608 (column names come from the models, the number is a parameter)


def _number(to: str) -> PhoneNumber | None:
    """The dialled number with its company (``tenant`` loaded; None when the number is free).

    Through the driver's own cursor: the statement names its schema, so whatever search path the
    pooled connection has will do, and Django's cursor would first set it (a round trip)."""
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        cursor.execute(NUMBER_SQL, [to])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(PhoneNumber._meta.concrete_fields)
    number = load(PhoneNumber, row[:split])
    number.tenant = load(Client, row[split:]) if row[split] is not None else None
    return number


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


# The numbers that answered lately, each with its company, kept in each process: the incoming-call
# statement checks that what it was kept with still holds (``NUMBER_GUARD_SQL``) before it writes,
# so a number that changed hands or state meanwhile is read again, never answered for the old one.
NUMBER_CACHE_SECONDS = 60.0
NUMBER_CACHE_SIZE = 10_000
_numbers: dict[str, tuple[float, PhoneNumber]] = {}

NUMBER_GUARD_SQL = """EXISTS (
    SELECT 1 FROM public.telephony_phonenumber n JOIN public.tenants_client c ON c.id = n.tenant_id
    WHERE n.number = %(guard__number)s AND n.tenant_id = %(guard__tenant)s
      AND n.state = %(guard__state)s AND c.status = %(guard__status)s
)"""


def _known_number(to: str) -> tuple[PhoneNumber | None, bool]:
    """The dialled number with its company, and whether it came from the process's cache."""
    kept = _numbers.get(to)
    if kept is not None and time.monotonic() - kept[0] < NUMBER_CACHE_SECONDS:
        return kept[1], True
    number = _number(to)
    if number is not None and number.tenant is not None:
        if len(_numbers) >= NUMBER_CACHE_SIZE:
            _numbers.clear()
        _numbers[to] = (time.monotonic(), number)
    return number, False


def _guard(number: PhoneNumber) -> tuple[str, dict[str, object]]:
    """``NUMBER_GUARD_SQL``: the number still is ``number`` as kept (its company and both states)."""
    return NUMBER_GUARD_SQL, {
        "guard__number": number.number,
        "guard__tenant": number.tenant_id,
        "guard__state": number.state,
        "guard__status": number.tenant.status,
    }


@csrf_exempt
@require_POST
@twilio_signed
def incoming(request: HttpRequest) -> HttpResponse:
    params = TwilioCallParams.from_post(request.POST)
    if not params.call_sid:
        return HttpResponse("CallSid is required.", status=400, content_type="text/plain")
    while True:  # twice at most: a number read afresh is answered without a guard
        number, kept = _known_number(params.to_number)
        if number is None or number.tenant is None:
            return _unserved(params)
        answer = _first_answer(params, number, guard=_guard(number) if kept else None)
        if answer is not None:
            return answer
        _numbers.pop(params.to_number, None)  # the kept number changed meanwhile: read it again


def _unserved(params: TwilioCallParams) -> HttpResponse:
    log.warning("call %s to a number we do not serve: %s", params.call_sid, params.to_number)
    UnservedCall.objects.get_or_create(
        call_sid=params.call_sid,
        defaults={"from_number": params.from_number, "to_number": params.to_number},
    )
    return twiml.response(twiml.goodbye(twiml.UNKNOWN_NUMBER_MESSAGE))


def _first_answer(
    params: TwilioCallParams, number: PhoneNumber, guard: tuple[str, dict[str, object]] | None
) -> HttpResponse | None:
    """The call recorded in the number's company and its first answer; None when ``guard`` fails."""
    try:
        # One transaction (one commit) for the call record and its place in the queue; the
        # tenant's settings and queue, which the answer needs, are read with the call record.
        with tenant_context(number.tenant), transaction.atomic():
            read = flows.inbound_context_read(number.tenant)
            call, _, context = start_inbound(params=params, read=read, guard=guard)
            if call is None:
                return None
            if not number.in_service:
                add_event(call, "refused_not_in_service", dedupe="not_in_service", state=number.state)
                set_outcome(call, Call.Outcome.FAILED, reason="service suspended")
                return twiml.response(twiml.goodbye(twiml.SUSPENDED_MESSAGE))
            context = flows.load_context(number.tenant, context) if context is not None else None
            return twiml.response(flows.first_step(tenant=number.tenant, call=call, context=context))
    except Exception:
        # Nothing of the failed flow is kept, but the call is: record it again, with the error,
        # and take a message (a savepoint would cost every call two round trips for this).
        log.exception("call %s: the first step failed", params.call_sid)
        with tenant_context(number.tenant), transaction.atomic():
            call, _, _ = start_inbound(params=params)
            add_event(call, "flow_error", dedupe="flow_error")
        return fallback_response()


@csrf_exempt
@require_POST
@twilio_signed
def status(request: HttpRequest) -> HttpResponse:
    """Status callbacks (any order, any number of times): they only ever move a call forward."""
    tenant = _tenant_of(request)
    if tenant is None:
        return HttpResponse(status=204)
    with tenant_context(tenant):
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
    from telephony.tasks import store_recording

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
    add_event(
        call, f"dial_result:{leg}", dedupe=f"dial:{leg}:{request.POST.get('DialCallSid', '')}", status=result
    )
    if leg == "operator" and talk.isdigit():
        Call.objects.filter(pk=call.pk).update(talk_seconds=int(talk))
    if result == "completed":
        return twiml.response(twiml.goodbye(""))
    if leg == "specialist":
        voice = flows.voice_of(flows.TelephonySettings.current())
        return twiml.response(
            flows.voicemail(
                call=call,
                voice=voice,
                message="Our specialist is not available. Please leave a message after the tone.",
            )
        )
    # The operator's phone did not answer: the caller goes back to waiting, keeping its place.
    voice = flows.voice_of(flows.TelephonySettings.current())
    return twiml.response(flows.to_queue(tenant=tenant, call=call, voice=voice, text="", now=timezone.now()))


@csrf_exempt
@require_POST
@twilio_signed
def fallback(request: HttpRequest) -> HttpResponse:
    """Twilio's fallback URL: static TwiML (no database) when a webhook failed or timed out (11205)."""
    return fallback_response()


def fallback_response() -> HttpResponse:
    """Say sorry and take a message: the caller is never dropped silently."""
    return twiml.response(
        twiml.voicemail(
            voice=twiml.Voice(),
            message=twiml.SORRY_MESSAGE,
            action=twiml.url("twilio-fallback-done"),
            recording_callback=twiml.url("twilio-recording"),
        )
    )


@csrf_exempt
@require_POST
@twilio_signed
def fallback_done(request: HttpRequest) -> HttpResponse:
    return twiml.response(twiml.goodbye("Thank you for your message. Goodbye."))
