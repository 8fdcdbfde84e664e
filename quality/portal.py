"""The client company's own recordings in its portal: listed with a player, streamed to its staff
(``client_staff``: the portal URLs exist on company hosts only); and who heard them, the access log
(page with filters in the company's time zone, CSV/XLSX export)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from reporting import exports, recording_log, stats
from reporting.exports import visible_operator_name
from reporting.portal_views import client_staff
from telephony.calls.models import Call, RecordingAccess
from telephony.recording_access import Listener, serve_recording

PAGE_SIZE = 50


@client_staff
def recordings(request: HttpRequest) -> HttpResponse:
    calls = Call.objects.exclude(recording_key="").order_by("-started_at")
    page = Paginator(calls, PAGE_SIZE).get_page(request.GET.get("page"))
    for call in page.object_list:  # the company sees "Jane D.", as on its other portal pages
        call.operator_shown = visible_operator_name(call.operator_name) if call.operator_name else ""
    return render(request, "quality/portal_recordings.html", {"page": page})


@client_staff
def audio(request: HttpRequest, call_id: int) -> HttpResponse:
    call = get_object_or_404(Call.objects.exclude(recording_key=""), pk=call_id)
    listener = Listener.of(request.user, platform_staff=False)
    return serve_recording(
        call=call, request=request, surface=RecordingAccess.Surface.PORTAL, listener=listener
    )


def _access_filter(request: HttpRequest) -> recording_log.AccessFilter:
    return recording_log.AccessFilter(request.GET or None, zone=stats.local_zone())


@client_staff
def access_log(request: HttpRequest) -> HttpResponse:
    """Every play, download and deletion of the company's recordings, newest first, filtered."""
    filterset = _access_filter(request)
    valid = not filterset.is_bound or filterset.is_valid()
    accesses = filterset.qs if valid else RecordingAccess.objects.none()
    page = Paginator(accesses, PAGE_SIZE).get_page(request.GET.get("page"))
    for access in page.object_list:
        access.who = recording_log.who(access)
    query = urlencode({k: v for k, v in request.GET.items() if k != "page" and v})
    context = {"filterset": filterset, "page": page, "query": query, "zone": filterset.zone}
    return render(request, "quality/access_log.html", context, status=200 if valid else 400)


@client_staff
def access_log_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The access log as filtered on the page, every page of it (CSV streamed, or XLSX)."""
    return exports.filtered_export(
        request, fmt, filterset=_access_filter(request), title="Recording access",
        header=recording_log.HEADER, rows=recording_log.rows,
        filename=lambda data: f"{request.tenant.slug}-recording-access.{fmt}",
    )  # fmt: skip
