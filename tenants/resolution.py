"""Host → client company, for HTTP requests and sockets, and schema → client company, for the
webhook URLs that name it (``t``), with a small per-process cache.

Every request resolves its host (and every Twilio webhook about a known call its schema); the
lookup is cached for TENANT_DOMAIN_CACHE_SECONDS and dropped at once in this process when a Client
or Domain changes (other processes catch up within the TTL).
"""

from __future__ import annotations

import copy

from django.conf import settings
from django_tenants.utils import get_public_schema_name

from config.process_cache import ProcessCache
from tenants.models import Client, Domain


def normalise_host(host: str) -> str:
    """``Acme.Localhost:8000`` → ``acme.localhost``."""
    host = host.strip().lower()
    if host.startswith("["):  # IPv6 literal
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def _client_of(hostname: str) -> Client | None:
    domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
    return domain.tenant if domain is not None else None


# Unknown hosts are kept too (as None): a stream of requests for one cannot reach the database.
_hosts: ProcessCache[str, Client] = ProcessCache(
    ttl=settings.TENANT_DOMAIN_CACHE_SECONDS, load_one=_client_of
).invalidate_on_save(Client, Domain)


def client_for_host(host: str) -> Client | None:
    """The client company served at ``host`` (the public one for the platform host), or None."""
    hostname = normalise_host(host)
    tenant = _hosts.get(hostname)
    if tenant is None:
        return None
    tenant = copy.copy(tenant)  # callers set domain_url on it; the cached one stays clean
    tenant.domain_url = hostname
    return tenant


def _company_of(schema_name: str) -> Client | None:
    return Client.objects.companies().filter(schema_name=schema_name).first()


_schemas: ProcessCache[str, Client] = ProcessCache(
    ttl=settings.TENANT_DOMAIN_CACHE_SECONDS, load_one=_company_of
).invalidate_on_save(Client)


def client_for_schema(schema_name: str) -> Client | None:
    """The client company whose schema this is (never the platform's own ``public``), or None."""
    if not schema_name or schema_name == get_public_schema_name():
        return None
    tenant = _schemas.get(schema_name)
    return copy.copy(tenant) if tenant is not None else None  # the cached one stays clean


def forget_hosts() -> None:
    """Drop every cached host in this process."""
    _hosts.invalidate()
