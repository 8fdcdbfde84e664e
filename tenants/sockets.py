"""Tenancy for WebSockets: Channels bypasses django-tenants' middleware, so this does its job.

The host picks the client company (into ``scope["tenant"]``); the session cookie is read and the
user loaded inside that company's schema; every database call of a consumer goes through
``in_tenant`` so it runs in the schema of the socket's tenant, whatever thread it lands on.
"""

from __future__ import annotations

from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any, TypeVar

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import AnonymousUser
from django.utils.module_loading import import_string
from django_tenants.utils import tenant_context

from tenants.models import Client
from tenants.resolution import client_for_host

T = TypeVar("T")


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


@database_sync_to_async
def _resolve(host: str, cookie_header: str) -> tuple[Client | None, Any]:
    tenant = client_for_host(host) if host else None
    if tenant is None:
        return None, AnonymousUser()
    cookies = SimpleCookie()
    cookies.load(cookie_header)
    morsel = cookies.get(settings.SESSION_COOKIE_NAME)
    if morsel is None:
        return tenant, AnonymousUser()
    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    with tenant_context(tenant):
        session = store(session_key=morsel.value)

        class _Request:  # what django.contrib.auth.get_user reads
            pass

        request = _Request()
        request.session = session
        user = auth.get_user(request)
        if user.is_authenticated:
            user.role  # noqa: B018  (loaded here, inside the schema, not later outside it)
    return tenant, user


class TenantAuthMiddleware(BaseMiddleware):
    """Resolve ``scope["tenant"]`` from the Host header and ``scope["user"]`` from its session.

    An unknown host closes the socket before any consumer sees it.
    """

    async def __call__(self, scope, receive, send):
        tenant, user = await _resolve(_header(scope, b"host"), _header(scope, b"cookie"))
        if tenant is None:
            await send({"type": "websocket.close", "code": 4404})
            return None
        scope = dict(scope, tenant=tenant, user=user)
        return await super().__call__(scope, receive, send)


def in_tenant(tenant: Client, func: Callable[..., T]) -> Callable[..., Any]:
    """``await in_tenant(tenant, f)(*args)``: f runs in a DB thread inside the tenant's schema."""

    def run(*args: Any, **kwargs: Any) -> T:
        with tenant_context(tenant):
            return func(*args, **kwargs)

    return database_sync_to_async(run)


def group_name(tenant: Client, name: str) -> str:
    """Channel groups carry the schema name, so no two tenants ever share one."""
    return f"{tenant.schema_name}.{name}"
