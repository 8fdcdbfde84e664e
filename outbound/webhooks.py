"""Twilio's webhooks of outbound calls, at /twilio/voice/outbound/ on the platform host.

Signed like the inbound ones; each URL carries the schema (``t``) and our call record's id
(``c``), both covered by the signature, because the first webhook may come before the CallSid
Twilio returned to ``calls.create`` is stored.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from outbound import progress
from outbound.calls import is_pending
from telephony import twiml
from telephony.calls.models import Call
from telephony.calls.records import TwilioCallParams
from telephony.signatures import twilio_fields
from telephony.signed_calls import placed_call_webhook


def _is_this_call(call: Call, sid: str) -> bool:
    """The CallSid must be this call's (or the call is still waiting to learn it)."""
    return call.call_sid == sid or is_pending(call)


outbound_webhook = placed_call_webhook(_is_this_call)


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
