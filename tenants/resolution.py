"""Host → client company, for HTTP requests and sockets, with a small per-process cache.

Every request resolves its host; the lookup is cached for TENANT_DOMAIN_CACHE_SECONDS and
dropped at once in this process when a Client or Domain changes (other processes catch up
within the TTL).
"""

from __future__ import annotations

import copy
import threading
import time

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tenants.models import Client, Domain

_cache: dict[str, tuple[float, Client | None]] = {}
_lock = threading.Lock()


def normalise_host(host: str) -> str:
    """``Acme.Localhost:8000`` → ``acme.localhost``."""
    host = host.strip().lower()
    if host.startswith("["):  # IPv6 literal
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def client_for_host(host: str) -> Client | None:
    """The client company served at ``host`` (the public one for the platform host), or None."""
    hostname = normalise_host(host)
    now = time.monotonic()
    hit = _cache.get(hostname)
    if hit is not None and hit[0] > now:
        tenant = hit[1]
    else:
        domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
        tenant = domain.tenant if domain is not None else None
        with _lock:
            _cache[hostname] = (now + settings.TENANT_DOMAIN_CACHE_SECONDS, tenant)
    if tenant is None:
        return None
    tenant = copy.copy(tenant)  # callers set domain_url on it; the cached one stays clean
    tenant.domain_url = hostname
    return tenant


def forget_hosts() -> None:
    with _lock:
        _cache.clear()


@receiver([post_save, post_delete], sender=Client)
@receiver([post_save, post_delete], sender=Domain)
def _client_or_domain_changed(**kwargs: object) -> None:
    forget_hosts()
