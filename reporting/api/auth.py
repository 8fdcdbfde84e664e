"""Bearer API keys, scopes and a rate limit per key for the REST API v1."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from reporting.keys import ApiKey, access_api_key


class ApiClient:
    """The caller behind a key: authenticated, but not a user of the portal."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: ApiKey) -> None:
        self.key = key

    def __str__(self) -> str:
        return f"API key {self.key.name}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0] != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization: Bearer <key>")
        key = access_api_key(header[1])
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > dt.timedelta(minutes=1):
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return ApiClient(key), key

    def authenticate_header(self, request) -> str:
        return self.keyword


class HasScope(permissions.BasePermission):
    """The key carries the scope the view declares in ``required_scope``."""

    message = "This API key lacks the scope this endpoint needs."

    def has_permission(self, request, view) -> bool:
        key = request.auth
        return isinstance(key, ApiKey) and view.required_scope in key.scopes


class PerKeyRateThrottle(throttling.SimpleRateThrottle):
    """N requests per minute per key; over it, 429 with Retry-After (DRF sets the header)."""

    rate = "600/min"
    scope = "api_key"

    def get_rate(self) -> str:
        return self.rate

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        # The key's random prefix, not its row id: ids repeat across databases sharing one cache.
        return f"api-rate:{connection.schema_name}:{request.auth.prefix}"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "reporting.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A key created in the portal (API keys)."}
