"""The console's PCI pause endpoints (thin: see console.recording): the call's operator, and supervisors."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_POST

from accounts.permissions import SUPERVISORS
from console import recording
from console.access import ConsoleError
from console.views import _body, operator_only


@require_POST
@operator_only
def operator_recording(request: HttpRequest, reservation_id: int) -> HttpResponse:
    """``{"on": true}`` pauses the call's recording, ``{"on": false}`` resumes it; ``{"keep": true}``:
    the console came back to a paused call (it stays paused, an event says so); ``{"follow": true}``:
    the call connected on a sensitive script step (the recording pauses)."""
    data = _body(request)
    if data.get("keep") is True:
        return JsonResponse(recording.operator_keep(reservation_id=reservation_id, operator=request.user))
    if data.get("follow") is True:  # connected on a sensitive step: pause as entering one does
        return JsonResponse(recording.operator_follow(reservation_id=reservation_id, operator=request.user))
    if not isinstance(data.get("on"), bool):
        raise ConsoleError('Say whether to pause the recording: {"on": true} or {"on": false}.')
    state = recording.operator_set(reservation_id=reservation_id, operator=request.user, on=data["on"])
    return JsonResponse(state)


def supervisor_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Platform host, supervisors (and platform admins) only; refusals as JSON 409s."""

    @login_required
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.tenant.is_platform or not SUPERVISORS.allows(request.user):
            raise PermissionDenied(SUPERVISORS.refusal)
        try:
            return view(request, *args, **kwargs)
        except ConsoleError as refused:
            return JsonResponse({"error": str(refused)}, status=409)

    return wrapped


@require_POST
@supervisor_only
def supervisor_recording(request: HttpRequest, slug: str, call_sid: str) -> HttpResponse:
    """A supervisor pauses (``{"on": true}``) or resumes a live call's recording of company ``slug``."""
    data = _body(request)
    if not isinstance(data.get("on"), bool):
        raise ConsoleError('Say whether to pause the recording: {"on": true} or {"on": false}.')
    state = recording.supervisor_set(slug=slug, call_sid=call_sid, supervisor=request.user, on=data["on"])
    return JsonResponse(state)
