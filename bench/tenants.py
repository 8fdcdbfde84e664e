"""Tenant creation (clone vs migrate) with 100 tenants present, and the cost of host resolution.

Runs against its own database (``bench_cc``) on the configured server (embedded by default).
"""

from __future__ import annotations

import os
import statistics
import time
import uuid

from bench._django import setup


def _setup_django() -> None:
    setup(os.environ.get("BENCH_DATABASE", "bench_cc"))


def _ensure_tenants(count: int) -> None:
    from tenants.clients import client_create, ensure_platform
    from tenants.models import Client

    ensure_platform()
    existing = Client.objects.filter(slug__startswith="bench-").count()
    for index in range(existing, count):
        client_create(slug=f"bench-{index:04d}", name=f"Bench {index}", status=Client.Status.ACTIVE)


def _drop(client) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA "{client.schema_name}" CASCADE')
    client.domains.all().delete()
    type(client).objects.filter(pk=client.pk).delete()


def _time_creation(repeat: int, *, by: str) -> list[float]:
    from django.test import override_settings

    from tenants.clients import client_create

    seconds = []
    for _ in range(repeat):
        slug = f"tmp-{uuid.uuid4().hex[:10]}"
        # Without a base schema to clone from, creation falls back to running every migration.
        base = "tenant_base" if by == "clone" else "no_base_schema_here"
        with override_settings(TENANT_BASE_SCHEMA=base):
            start = time.perf_counter()
            client = client_create(slug=slug, name=slug)
            seconds.append(time.perf_counter() - start)
        _drop(client)
    return seconds


def _time_resolution(requests: int) -> dict[str, float]:
    from django.http import HttpResponse
    from django.test import Client as HttpClient
    from django.test import RequestFactory, override_settings
    from django.urls import path

    from tenants.middleware import TenantMiddleware
    from tenants.models import Domain
    from tenants.resolution import forget_hosts

    hosts = list(Domain.objects.filter(domain__startswith="bench-").values_list("domain", flat=True)[:100])
    factory = RequestFactory()
    middleware = TenantMiddleware(lambda request: HttpResponse("ok"))

    def resolve_all(cold: bool, n: int) -> float:
        start = time.perf_counter()
        for index in range(n):
            if cold:
                forget_hosts()
            middleware.process_request(factory.get("/", HTTP_HOST=hosts[index % len(hosts)]))
        return (time.perf_counter() - start) / n * 1000

    resolve_all(False, len(hosts))  # warm the cache
    warm_ms = statistics.median(resolve_all(False, requests) for _ in range(5))
    cold_ms = statistics.median(resolve_all(True, max(200, requests // 10)) for _ in range(3))

    def view(request):
        return HttpResponse("ok")

    urls = type("urls", (), {"urlpatterns": [path("", view)]})
    from django.conf import settings

    plain_mw = [m for m in settings.MIDDLEWARE if m != "tenants.middleware.TenantMiddleware"]

    def full_requests(with_tenant: bool, n: int) -> float:
        client = HttpClient()
        mw = settings.MIDDLEWARE if with_tenant else plain_mw
        with override_settings(
            MIDDLEWARE=mw, ROOT_URLCONF=urls, PUBLIC_SCHEMA_URLCONF=urls, ALLOWED_HOSTS=["*"]
        ):
            start = time.perf_counter()
            for index in range(n):
                client.get("/", HTTP_HOST=hosts[index % len(hosts)])
            return (time.perf_counter() - start) / n * 1000

    full_requests(True, 200)
    plain = statistics.median(full_requests(False, requests // 5) for _ in range(5))
    tenant = statistics.median(full_requests(True, requests // 5) for _ in range(5))
    return {
        "resolution_ms_cached": round(warm_ms, 4),
        "resolution_ms_uncached": round(cold_ms, 4),
        "plain_view_ms": round(plain, 4),
        "tenant_view_ms": round(tenant, 4),
        "tenant_overhead_ms": round(tenant - plain, 4),
        "tenant_view_ratio": round(tenant / plain, 3),
    }


def run(quick: bool) -> dict[str, object]:
    _setup_django()
    from django.core.management import call_command

    from tenants.models import Client

    call_command("migrate_schemas", interactive=False, verbosity=0)
    _ensure_tenants(100)
    repeat = 5 if quick else 15
    clone = _time_creation(repeat, by="clone")
    migrate = _time_creation(max(3, repeat // 2), by="migrate")
    result: dict[str, object] = {
        "tenants_present": Client.objects.companies().count(),
        "create_by_clone_s": round(statistics.median(clone), 4),
        "create_by_migrate_s": round(statistics.median(migrate), 4),
        "clone_speedup": round(statistics.median(migrate) / statistics.median(clone), 2),
        "goal_create_s": 1.0,
        "goal_resolution_ms": 1.0,
    }
    result.update(_time_resolution(2000 if quick else 10000))
    return result
