"""Supervisors monitoring live calls from the wallboard (platform host, supervisors only): join a
call listening, whispering or barging, switch, leave; their phone number and browser phone token.
Thin: ``telephony.supervision`` does the work; its refusals are 409s with the message."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from console.http import json_body, supervisor_only
from console.views import voice_token
from telephony import supervision
from telephony.supervision_models import Monitoring


def _session(session: Monitoring | None) -> dict[str, Any] | None:
    if session is None:
        return None
    return {"call": session.call_id, "mode": session.mode, "device": session.device,
            "started_at": session.started_at.isoformat()}  # fmt: skip


def _state(request: HttpRequest) -> dict[str, Any]:
    return {
        "session": _session(supervision.open_session(request.user)),
        "phone": supervision.phone_of(request.user),
    }


@require_GET
@supervisor_only(supervision.SupervisionRefused)
def state(request: HttpRequest) -> HttpResponse:
    """What this supervisor is monitoring now, and their number (read again on each page load)."""
    return JsonResponse(_state(request))


@require_POST
@supervisor_only(supervision.SupervisionRefused)
def monitor(request: HttpRequest, call_id: int) -> HttpResponse:
    """Join the call (``{"mode": listen|whisper|barge, "device": browser|phone}``) or switch mode."""
    data = json_body(request, supervision.SupervisionRefused)
    supervision.start(
        supervisor=request.user,
        waiting_call_id=call_id,
        mode=str(data.get("mode", "")),
        device=str(data.get("device", "browser")),
    )
    return JsonResponse(_state(request))


@require_POST
@supervisor_only(supervision.SupervisionRefused)
def leave(request: HttpRequest) -> HttpResponse:
    supervision.stop(supervisor=request.user)
    return JsonResponse(_state(request))


@require_POST
@supervisor_only(supervision.SupervisionRefused)
def phone(request: HttpRequest) -> HttpResponse:
    """Save the supervisor's own number (E.164) for monitoring from a phone; empty clears it."""
    supervision.set_phone(
        supervisor=request.user,
        phone=str(json_body(request, supervision.SupervisionRefused).get("phone", "")),
    )
    return JsonResponse(_state(request))


@require_GET
@supervisor_only(supervision.SupervisionRefused)
def token(request: HttpRequest) -> HttpResponse:
    """A Twilio Voice access token: the browser becomes the supervisor's phone (incoming only)."""
    return JsonResponse(voice_token(supervision.supervisor_identity(request.user.pk), outgoing=False))
