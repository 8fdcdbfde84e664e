"""Pages of the platform host: the public landing page and the staff home."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.permissions import PLATFORM_STAFF, role_required
from tenants.models import Client


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "public/landing.html")


@role_required(PLATFORM_STAFF)
def staff_home(request: HttpRequest) -> HttpResponse:
    clients = Client.objects.companies().prefetch_related("domains")
    return render(request, "backoffice/home.html", {"clients": clients})
