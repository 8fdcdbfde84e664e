"""Supervisors monitoring live calls from the wallboard (platform host, supervisors only): join a
call listening, whispering or barging, switch, leave; their phone number and browser phone token.
Thin: ``telephony.supervision`` does the work; its refusals are 409s with the message."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import SUPERVISORS
from console.views import voice_token
from telephony import supervision
from telephony.supervision_models import Monitoring


def supervisor_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Platform host, logged-in supervisors (and platform admins) only."""

    @login_required
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.tenant.is_platform or not SUPERVISORS.allows(request.user):
            raise PermissionDenied(SUPERVISORS.refusal)
        try:
            return view(request, *args, **kwargs)
        except supervision.SupervisionRefused as refused:
            return JsonResponse({"error": str(refused)}, status=409)

    return wrapped


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise supervision.SupervisionRefused("A JSON object is expected.")
    return data


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
@supervisor_only
def state(request: HttpRequest) -> HttpResponse:
    """What this supervisor is monitoring now, and their number (read again on each page load)."""
    return JsonResponse(_state(request))


@require_POST
@supervisor_only
def monitor(request: HttpRequest, call_id: int) -> HttpResponse:
    """Join the call (``{"mode": listen|whisper|barge, "device": browser|phone}``) or switch mode."""
    data = _body(request)
    supervision.start(
        supervisor=request.user,
        waiting_call_id=call_id,
        mode=str(data.get("mode", "")),
        device=str(data.get("device", "browser")),
    )
    return JsonResponse(_state(request))


@require_POST
@supervisor_only
def leave(request: HttpRequest) -> HttpResponse:
    supervision.stop(supervisor=request.user)
    return JsonResponse(_state(request))


@require_POST
@supervisor_only
def phone(request: HttpRequest) -> HttpResponse:
    """Save the supervisor's own number (E.164) for monitoring from a phone; empty clears it."""
    supervision.set_phone(supervisor=request.user, phone=str(_body(request).get("phone", "")))
    return JsonResponse(_state(request))


@require_GET
@supervisor_only
def token(request: HttpRequest) -> HttpResponse:
    """A Twilio Voice access token: the browser becomes the supervisor's phone (incoming only)."""
    return JsonResponse(voice_token(supervision.supervisor_identity(request.user.pk), outgoing=False))
