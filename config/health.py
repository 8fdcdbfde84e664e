"""/healthz on every host: database, Redis and Celery; 200 only when all three are up."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from config import redis_clients
from config.celery import live_workers


def _redis() -> redis.Redis:
    return redis_clients.shared(settings.CELERY_BROKER_URL, timeout=1)


def _database() -> dict[str, object]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True}
    except Exception as exc:  # any driver error means "down", with its reason
        return {"ok": False, "error": exc.__class__.__name__}


def _redis_and_celery() -> tuple[dict[str, object], dict[str, object]]:
    try:
        workers = live_workers(_redis())
    except redis.RedisError as exc:
        down = {"ok": False, "error": exc.__class__.__name__}
        return down, {"ok": False, "error": "broker unreachable"}
    celery = {"ok": workers > 0, "workers": workers}
    if not workers:
        celery["error"] = "no worker has reported in the last 15 s"
    return {"ok": True}, celery


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    database = _database()
    redis_state, celery_state = _redis_and_celery()
    ok = bool(database["ok"] and redis_state["ok"] and celery_state["ok"])
    body = {
        "status": "ok" if ok else "degraded",
        "database": database,
        "redis": redis_state,
        "celery": celery_state,
    }
    return JsonResponse(body, status=200 if ok else 503)
