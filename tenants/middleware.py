"""Selects the client company's schema from the request's host, before anything else runs; keeps a
closed company's portal read-only."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django_tenants.middleware.main import TenantMainMiddleware

from tenants.models import Client
from tenants.resolution import client_for_host


class TenantMiddleware(TenantMainMiddleware):
    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        connection.set_schema_to_public()
        try:
            host = request.get_host()
        except DisallowedHost:  # not ours at all
            return unknown_host(request)
        tenant = client_for_host(host)
        if tenant is None:
            return unknown_host(request)
        request.tenant = tenant
        connection.set_tenant(tenant)
        self.setup_url_routing(request)
        return None


def unknown_host(request: HttpRequest) -> HttpResponse:
    """A 404 that shows nothing of any schema, public included."""
    return HttpResponseNotFound(render_to_string("unknown_host.html"))


# What a closed company's people may still send: logging in and out, and choosing a password.
READ_ONLY_ALLOWED = ("/login/", "/logout/", "/password-reset/", "/reset/")


class ClosedCompanyReadOnlyMiddleware:
    """A closed client company's portal and API are read-only: they show its data (and the export to
    download) but refuse every change with a 403 that says why. After the authentication middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if (
            tenant is not None
            and tenant.status == Client.Status.CLOSED
            and request.method not in ("GET", "HEAD", "OPTIONS")
            and not request.path.startswith(READ_ONLY_ALLOWED)
        ):
            message = f"{tenant.name}'s service is closed: the portal is read-only."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=403)
            return render(request, "403.html", {"exception": message}, status=403)
        return self.get_response(request)
