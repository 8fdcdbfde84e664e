"""The client company's own recordings in its portal: listed with a player, streamed to its staff
(``client_staff``: the portal URLs exist on company hosts only)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from reporting.exports import visible_operator_name
from reporting.portal_views import client_staff
from telephony.calls.models import Call
from telephony.recordings import recording_response

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
    return recording_response(get_object_or_404(Call.objects.exclude(recording_key=""), pk=call_id))
