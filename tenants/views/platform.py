"""Pages of the platform host: the public landing page and the staff home."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import PLATFORM_ROLES
from tenants.models import Client


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "public/landing.html")


@login_required
def staff_home(request: HttpRequest) -> HttpResponse:
    if request.user.role not in PLATFORM_ROLES:
        raise PermissionDenied("Platform staff only.")
    clients = Client.objects.companies().prefetch_related("domains")
    return render(request, "backoffice/home.html", {"clients": clients})
