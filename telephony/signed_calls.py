"""The signed webhooks of the calls we place (outbound campaign calls, callback tries).

Each URL carries the schema (``t``) and our call record's id (``c``), both covered by the
signature, because Twilio's first callback may come before the CallSid that ``calls.create``
returned is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django_tenants.utils import tenant_context

from config.queries import one
from telephony import evidence, twiml
from telephony.calls.models import Call
from telephony.signatures import named_call, twilio_fields, twilio_signed, webhook_methods


def placed_call_webhook(
    accepts: Callable[[Call, str], bool],
) -> Callable[[Callable[[HttpRequest, Call], HttpResponse]], Callable[[HttpRequest], HttpResponse]]:
    """A signed request about one of our outbound calls: ``view(request, call)`` in the company's
    schema, when ``accepts(call, CallSid)``; anything else gets an empty goodbye."""

    def decorator(view: Callable[[HttpRequest, Call], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
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
                call = one(Call.objects.filter(pk=call_id, direction=Call.Direction.OUTBOUND))
                if call is None or not accepts(call, sid):
                    return twiml.response(twiml.goodbye(""))
                return view(request, call)

        return wrapper

    return decorator
