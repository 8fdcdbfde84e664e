"""Fetching campaigns for a request, with the permission check in the name (``access_…``).

Portal queries run in the request's schema, so another company's campaign simply does not exist
(404). The back office opens the chosen company's schema with ``tenant_context``.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from accounts.models import Role
from outbound.models import Campaign, ContactImport
from tenants.models import Client

MANAGER_ROLES = (Role.CLIENT_ADMIN, Role.CLIENT_EDITOR)
READER_ROLES = (Role.CLIENT_ADMIN, Role.CLIENT_EDITOR, Role.CLIENT_VIEWER)
BACK_OFFICE_ROLES = (Role.ACCOUNT_MANAGER, Role.SUPERVISOR, Role.PLATFORM_ADMIN)


def can_manage(user: object) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_role(*MANAGER_ROLES))


def require_reader(request: HttpRequest) -> None:
    if not request.user.has_role(*READER_ROLES):
        raise PermissionDenied("Client company staff only.")


def require_manager(request: HttpRequest) -> None:
    if not can_manage(request.user):
        raise PermissionDenied("Only admins and editors manage campaigns.")


def require_back_office(request: HttpRequest) -> None:
    if not request.user.has_role(*BACK_OFFICE_ROLES):
        raise PermissionDenied("Account managers and supervisors only.")


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
