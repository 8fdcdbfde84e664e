"""Tenancy for WebSockets: Channels bypasses django-tenants' middleware, so this does its job.

The host picks the client company (into ``scope["tenant"]``); the session cookie is read and the
user loaded inside that company's schema; every database call of a consumer goes through
``in_tenant`` so it runs in the schema of the socket's tenant, whatever thread it lands on.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any, TypeVar

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host
from django.utils.module_loading import import_string
from django_tenants.utils import tenant_context

from tenants.models import Client
from tenants.resolution import client_for_host

T = TypeVar("T")
log = logging.getLogger(__name__)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


class _SessionOnly:
    """What ``django.contrib.auth.get_user`` reads of a request: its session (one class for every
    socket: a class made at each connection was left in a reference cycle for the collector)."""

    __slots__ = ("session",)

    def __init__(self, session: Any) -> None:
        self.session = session


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
        user = auth.get_user(_SessionOnly(store(session_key=morsel.value)))
        if user.is_authenticated:
            user.role  # noqa: B018  (loaded here, inside the schema, not later outside it)
    return tenant, user


def _socket_origin(scope: dict[str, Any]) -> tuple[str, str, int] | None:
    """The origin of the socket itself (``http``/``https``, host, port), from its scheme and Host.

    Behind the TLS proxy (``DJANGO_HTTPS``) the scheme is the one ``X-Forwarded-Proto`` names, as
    Django reads it for plain requests.
    """
    domain, port = split_domain_port(_header(scope, b"host"))
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    scheme = "https" if scope.get("scheme") in {"wss", "https"} else "http"
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        forwarded = _header(scope, proxy[0].removeprefix("HTTP_").lower().replace("_", "-").encode())
        if forwarded:
            scheme = "https" if forwarded.split(",")[0].strip().lower() == proxy[1] else "http"
    return scheme, domain, int(port) if port.isdigit() else _DEFAULT_PORTS[scheme]


def _page_origin(value: str) -> tuple[str, str, int] | None:
    """The ``Origin`` header as (scheme, host, port); None when it is missing, opaque or malformed."""
    try:
        parts = urllib.parse.urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path or parts.query:
        return None
    return parts.scheme, parts.hostname.rstrip("."), port or _DEFAULT_PORTS[parts.scheme]


class SameOriginMiddleware(BaseMiddleware):
    """A socket opens only from a page of its own origin: the ``Origin`` header must name the
    socket's own scheme, host and port. A page of a sibling host (another client company, the
    platform host) cannot open a socket that carries this host's session cookie."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        own = _socket_origin(scope)
        page = _page_origin(_header(scope, b"origin"))
        if own is None or page is None or own != page:
            log.warning("websocket refused: Origin %r for host %r", _header(scope, b"origin"),
                        _header(scope, b"host"))  # fmt: skip
            await send({"type": "websocket.close", "code": 4403})
            return None
        return await super().__call__(scope, receive, send)


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


class InTenantOnly:
    """For a consumer whose every database access runs in ``in_tenant`` (a ``DatabaseSyncToAsync``,
    which closes stale connections itself, before and after, on the one thread-sensitive thread
    that runs every consumer's database work in the process).

    Channels' ``dispatch`` also hops onto that thread before every message, only to close them: a
    push with no database work at all (an offer for a console) then waits behind every other
    socket's queries. Here ``dispatch`` hands a message straight to its handler. (A disconnect
    still hops, in Channels' ``websocket_disconnect``: it has database work to do anyway.)"""

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


def group_name(tenant: Client, name: str) -> str:
    """Channel groups carry the schema name, so no two tenants ever share one."""
    return f"{tenant.schema_name}.{name}"
