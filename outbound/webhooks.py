"""Twilio's webhooks of outbound calls, at /twilio/voice/outbound/ on the platform host.

Signed like the inbound ones; each URL carries the schema (``t``) and our call record's id
(``c``), both covered by the signature, because the first webhook may come before the CallSid
Twilio returned to ``calls.create`` is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django_tenants.utils import tenant_context

from outbound import progress
from outbound.calls import is_pending
from telephony import evidence, twiml
from telephony.calls.models import Call
from telephony.calls.records import TwilioCallParams
from telephony.signatures import named_call, twilio_fields, twilio_signed, webhook_methods


def outbound_webhook(
    view: Callable[[HttpRequest, Call], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """A signed POST about one of our outbound calls: ``view(request, call)`` in the tenant's schema."""

    @csrf_exempt
    @webhook_methods
    @twilio_signed
    @wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        named = named_call(request)
        if named is None:
            return twiml.response(twiml.goodbye(""))
        tenant, call_id = named
        sid = twilio_fields(request).get("CallSid", "")
        with tenant_context(tenant):
            evidence.keep(request)
            call = Call.objects.filter(pk=call_id, direction=Call.Direction.OUTBOUND).first()
            # The CallSid must be this call's (or the call is still waiting to learn it).
            if call is None or not (call.call_sid == sid or is_pending(call)):
                return twiml.response(twiml.goodbye(""))
            return view(request, call)

    return wrapper


@outbound_webhook
def answer(request: HttpRequest, call: Call) -> HttpResponse:
    """The callee picked up (``AnsweredBy`` when the campaign asked for machine detection)."""
    fields = twilio_fields(request)
    return twiml.response(
        progress.answered(
            call=call,
            call_sid=fields.get("CallSid", ""),
            answered_by=fields.get("AnsweredBy", ""),
        )
    )


@outbound_webhook
def status(request: HttpRequest, call: Call) -> HttpResponse:
    progress.status(call=call, params=TwilioCallParams.from_post(twilio_fields(request)))
    return HttpResponse(status=204)


@outbound_webhook
def dial_result(request: HttpRequest, call: Call) -> HttpResponse:
    fields = twilio_fields(request)
    talk = fields.get("DialCallDuration", "")
    return twiml.response(
        progress.operator_leg_ended(
            call=call,
            result=fields.get("DialCallStatus", ""),
            talk=int(talk) if talk.isdigit() else None,
        )
    )
