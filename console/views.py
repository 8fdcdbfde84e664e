"""The operator console's page and JSON endpoints on the platform host (thin: see console.screen,
console.controls, console.wrapup and console.status)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

from accounts.permissions import OPERATORS
from console import controls, screen, status, wrapup
from console import outbound as console_outbound
from console.access import ConsoleError
from console.http import json_body
from telephony.calls.bridging import operator_identity
from telephony.routing_models import Reservation

TOKEN_TTL_SECONDS = 3600


def operator_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Platform host, logged-in operators only; a reservation of someone else is a 404."""

    @login_required
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.tenant.is_platform or not OPERATORS.allows(request.user):
            raise PermissionDenied("The console is for operators.")
        try:
            return view(request, *args, **kwargs)
        except Reservation.DoesNotExist as missing:
            raise Http404("No such offer for you.") from missing
        except ConsoleError as refused:
            return JsonResponse({"error": str(refused)}, status=409)

    return wrapped


def _body(request: HttpRequest) -> dict[str, Any]:
    return json_body(request, ConsoleError)


@require_GET
@operator_only
def page(request: HttpRequest) -> HttpResponse:
    return render(request, "console/console.html", {"softphone": settings.TWILIO_SOFTPHONE})


@require_GET
@operator_only
def state(request: HttpRequest) -> HttpResponse:
    return JsonResponse(status.console_state(operator=request.user))


@require_GET
@operator_only
def offer(request: HttpRequest, reservation_id: int) -> HttpResponse:
    return JsonResponse(screen.screen_pop(reservation_id=reservation_id, operator=request.user))


@require_GET
@operator_only
def call(request: HttpRequest, reservation_id: int) -> HttpResponse:
    return JsonResponse(screen.call_view(reservation_id=reservation_id, operator=request.user))


@require_POST
@operator_only
def script(request: HttpRequest, reservation_id: int) -> HttpResponse:
    data = _body(request)
    result = screen.script_act(
        reservation_id=reservation_id,
        operator=request.user,
        action=str(data.get("action", "")),
        node=str(data.get("node", "")),
        value=data.get("value"),
    )
    return JsonResponse(result)


@require_POST
@operator_only
def transfer(request: HttpRequest, reservation_id: int) -> HttpResponse:
    data = _body(request)
    done = controls.transfer(
        reservation_id=reservation_id,
        operator=request.user,
        specialist_key=str(data.get("specialist", "")),
        mode=str(data.get("mode", "blind")),
        action=str(data.get("action", "start")),
    )
    return JsonResponse({"transferred": done})


@require_POST
@operator_only
def hang_up(request: HttpRequest, reservation_id: int) -> HttpResponse:
    controls.end_call(reservation_id=reservation_id, operator=request.user)
    return JsonResponse({"ended": True})


@require_POST
@operator_only
def wrap_up(request: HttpRequest, reservation_id: int) -> HttpResponse:
    data = _body(request)
    wrapup.wrap_up(
        reservation_id=reservation_id,
        operator=request.user,
        disposition=str(data.get("disposition", "")),
        note=str(data.get("note", "")),
        then="available" if data.get("available") else "wrap_up",
    )
    return JsonResponse({"wrapped_up": True})


@require_POST
@operator_only
def dial(request: HttpRequest, reservation_id: int) -> HttpResponse:
    return JsonResponse(console_outbound.dial(reservation_id=reservation_id, operator=request.user))


@require_POST
@operator_only
def skip(request: HttpRequest, reservation_id: int) -> HttpResponse:
    return JsonResponse(console_outbound.skip(reservation_id=reservation_id, operator=request.user))


@require_POST
@operator_only
def opt_out(request: HttpRequest, reservation_id: int) -> HttpResponse:
    return JsonResponse(console_outbound.opt_out(reservation_id=reservation_id, operator=request.user))


@require_POST
@operator_only
def hold(request: HttpRequest, reservation_id: int) -> HttpResponse:
    data = _body(request)
    if not isinstance(data.get("on"), bool):
        raise ConsoleError('Say whether to hold: {"on": true} or {"on": false}.')
    return JsonResponse(controls.hold(reservation_id=reservation_id, operator=request.user, on=data["on"]))


@require_POST
@operator_only
def mute(request: HttpRequest, reservation_id: int) -> HttpResponse:
    data = _body(request)
    if not isinstance(data.get("on"), bool):
        raise ConsoleError('Say whether to mute: {"on": true} or {"on": false}.')
    return JsonResponse(controls.mute(reservation_id=reservation_id, operator=request.user, on=data["on"]))


@require_GET
@operator_only
def token(request: HttpRequest) -> HttpResponse:
    """A Twilio Voice access token: the browser becomes the operator's phone (incoming calls only)."""
    return JsonResponse(voice_token(operator_identity(request.user.pk), outgoing=True))


def voice_token(identity: str, *, outgoing: bool) -> dict[str, Any]:
    """A Twilio Voice SDK access token for a browser phone (the operator's, a supervisor's)."""
    access = AccessToken(
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_API_KEY,
        settings.TWILIO_API_SECRET,
        identity=identity,
        ttl=TOKEN_TTL_SECONDS,
    )
    app = settings.TWILIO_TWIML_APP_SID if outgoing else None
    access.add_grant(VoiceGrant(outgoing_application_sid=app, incoming_allow=True))
    return {"token": access.to_jwt(), "identity": identity, "ttl": TOKEN_TTL_SECONDS}
