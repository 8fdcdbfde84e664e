"""The wallboard page (platform host, supervisors and platform admins); the data comes by socket."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.permissions import SUPERVISORS


@login_required
def page(request: HttpRequest) -> HttpResponse:
    if not request.tenant.is_platform or not SUPERVISORS.allows(request.user):
        raise PermissionDenied("The wallboard is for supervisors.")
    return render(request, "wallboard/wallboard.html", {"softphone": settings.TWILIO_SOFTPHONE})
