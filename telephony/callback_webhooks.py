"""Twilio's webhooks of the calls that call back a caller who kept their place (R13).

Signed like every webhook; each URL carries the schema (``t``) and the try's call record (``c``),
both covered by the signature, because Twilio's first callback may come before the CallSid that
``calls.create`` returned is stored. The CallSid must be the try's (or the try must still be
waiting to learn it). Replays and any order are safe (``telephony.callback_dial``).
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse

from telephony import answering, callback_dial, twiml
from telephony.calls.callback_tries import is_try
from telephony.calls.models import Call
from telephony.calls.records import TwilioCallParams
from telephony.signatures import twilio_fields
from telephony.signed_calls import placed_call_webhook


def _is_this_try(call: Call, sid: str) -> bool:
    """A try of a place-keeping callback, and the CallSid its own (or it is still to learn it)."""
    return is_try(call) and (call.call_sid == sid or call.placed_at is None)


try_webhook = placed_call_webhook(_is_this_try)


@try_webhook
def answer(request: HttpRequest, call: Call) -> HttpResponse:
    """The person called back picked up: into the call's conference, and an operator's leg added."""
    response, waiting_id = callback_dial.answered(
        call=call, call_sid=twilio_fields(request).get("CallSid", "")
    )
    if waiting_id is not None:
        transaction.on_commit(lambda: answering.connect(waiting_id))
    return twiml.response(response)


@try_webhook
def status(request: HttpRequest, call: Call) -> HttpResponse:
    """The try's call status: done, or not reached (the callback rules apply)."""
    callback_dial.status(call=call, params=TwilioCallParams.from_post(twilio_fields(request)))
    return HttpResponse(status=204)
