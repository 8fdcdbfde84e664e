"""Selects the client company's schema from the request's host, before anything else runs."""

from __future__ import annotations

from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.template.loader import render_to_string
from django_tenants.middleware.main import TenantMainMiddleware

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
