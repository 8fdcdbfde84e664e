"""Twilio's webhooks of the calls that call back a caller who kept their place (R13).

Signed like every webhook; each URL carries the schema (``t``) and the try's call record (``c``),
both covered by the signature, because Twilio's first callback may come before the CallSid that
``calls.create`` returned is stored. The CallSid must be the try's (or the try must still be
waiting to learn it). Replays and any order are safe (``telephony.callback_dial``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django_tenants.utils import tenant_context

from telephony import callback_dial, evidence, tasks, twiml
from telephony.calls.callback_tries import is_try
from telephony.calls.models import Call
from telephony.calls.records import TwilioCallParams
from telephony.signatures import named_call, twilio_fields, twilio_signed, webhook_methods


def try_webhook(view: Callable[[HttpRequest, Call], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """A signed request about one try of a place-keeping callback: ``view(request, call)`` in the
    company's schema; anything else gets an empty goodbye."""

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
            if call is None or not is_try(call) or not (call.call_sid == sid or call.placed_at is None):
                return twiml.response(twiml.goodbye(""))
            return view(request, call)

    return wrapper


@try_webhook
def answer(request: HttpRequest, call: Call) -> HttpResponse:
    """The person called back picked up: into the call's conference, and an operator's leg added."""
    response, waiting_id = callback_dial.answered(
        call=call, call_sid=twilio_fields(request).get("CallSid", "")
    )
    if waiting_id is not None:
        transaction.on_commit(lambda: tasks.bridge_call.delay(waiting_id))
    return twiml.response(response)


@try_webhook
def status(request: HttpRequest, call: Call) -> HttpResponse:
    """The try's call status: done, or not reached (the callback rules apply)."""
    callback_dial.status(call=call, params=TwilioCallParams.from_post(twilio_fields(request)))
    return HttpResponse(status=204)
