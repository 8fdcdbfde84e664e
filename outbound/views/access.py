"""Fetching campaigns for a request, with the permission check in the name (``access_…``).

Portal queries run in the request's schema, so another company's campaign simply does not exist
(404). The back office opens the chosen company's schema with ``tenant_context``.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from accounts.permissions import BACK_OFFICE, CLIENT_EDITORS, CLIENT_STAFF, require
from outbound.models import Campaign, ContactImport
from tenants.models import Client


def can_manage(user: object) -> bool:
    return CLIENT_EDITORS.allows(user)


def require_reader(request: HttpRequest) -> None:
    require(CLIENT_STAFF, request.user)


def require_manager(request: HttpRequest) -> None:
    require(CLIENT_EDITORS, request.user)


def require_back_office(request: HttpRequest) -> None:
    require(BACK_OFFICE, request.user)


def access_campaign(request: HttpRequest, pk: int, *, manage: bool = False) -> Campaign:
    require_manager(request) if manage else require_reader(request)
    return get_object_or_404(Campaign.objects.select_related("script"), pk=pk)


def access_import(request: HttpRequest, campaign: Campaign, pk: int) -> ContactImport:
    return get_object_or_404(ContactImport, pk=pk, campaign=campaign)


def client_for(slug: str) -> Client:
    client = Client.objects.companies().filter(slug=slug).first()
    if client is None:
        raise Http404("No such client company.")
    return client
