"""The client company's own recordings in its portal: listed with a player, streamed to its staff."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.models import CLIENT_ROLES
from telephony.calls.models import Call
from telephony.recordings import recording_response

PAGE_SIZE = 50


def _company_staff(request: HttpRequest) -> None:
    if request.tenant.is_platform:
        raise Http404
    if not request.user.has_role(*CLIENT_ROLES):
        raise PermissionDenied("Recordings are for your company's staff.")


@login_required
def recordings(request: HttpRequest) -> HttpResponse:
    _company_staff(request)
    calls = Call.objects.exclude(recording_key="").order_by("-started_at")
    page = Paginator(calls, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "quality/portal_recordings.html", {"page": page})


@login_required
def audio(request: HttpRequest, call_id: int) -> HttpResponse:
    _company_staff(request)
    return recording_response(get_object_or_404(Call.objects.exclude(recording_key=""), pk=call_id))
