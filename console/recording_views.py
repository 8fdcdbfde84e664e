"""The console's PCI pause endpoints (thin: see console.recording): the call's operator, and supervisors."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_POST

from console import recording
from console.access import ConsoleError
from console.http import json_body, supervisor_only
from console.views import operator_only


@require_POST
@operator_only
def operator_recording(request: HttpRequest, reservation_id: int) -> HttpResponse:
    """``{"on": true}`` pauses the call's recording, ``{"on": false}`` resumes it; ``{"keep": true}``:
    the console came back to a paused call (it stays paused, an event says so); ``{"follow": true}``:
    the call connected on a sensitive script step (the recording pauses)."""
    data = json_body(request, ConsoleError)
    if data.get("keep") is True:
        return JsonResponse(recording.operator_keep(reservation_id=reservation_id, operator=request.user))
    if data.get("follow") is True:  # connected on a sensitive step: pause as entering one does
        return JsonResponse(recording.operator_follow(reservation_id=reservation_id, operator=request.user))
    if not isinstance(data.get("on"), bool):
        raise ConsoleError('Say whether to pause the recording: {"on": true} or {"on": false}.')
    state = recording.operator_set(reservation_id=reservation_id, operator=request.user, on=data["on"])
    return JsonResponse(state)


@require_POST
@supervisor_only(ConsoleError)
def supervisor_recording(request: HttpRequest, slug: str, call_sid: str) -> HttpResponse:
    """A supervisor pauses (``{"on": true}``) or resumes a live call's recording of company ``slug``."""
    data = json_body(request, ConsoleError)
    if not isinstance(data.get("on"), bool):
        raise ConsoleError('Say whether to pause the recording: {"on": true} or {"on": false}.')
    state = recording.supervisor_set(slug=slug, call_sid=call_sid, supervisor=request.user, on=data["on"])
    return JsonResponse(state)
