"""Bearer API keys, scopes and the rate limits (per key, per company, per address) of the REST API v1."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request
from rest_framework.views import APIView

from config import ratelimit
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
            throttle_address(request)  # no key at all: refused below, limited by address here
            return None
        if len(header) != 2:
            throttle_address(request)
            raise exceptions.AuthenticationFailed("Authorization: Bearer <key>")
        key = access_api_key(header[1])
        if key is None:
            throttle_address(request)  # guessing keys costs the guesser's address its quota
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


def throttle_address(request: Request) -> None:
    """Requests without a valid key are limited per client address (all companies together): 429."""
    address = throttling.BaseThrottle().get_ident(request)
    decision = ratelimit.hit([(f"api:address:{address}", PerKeyRateThrottle.address_rate)])
    request.rate_limit = decision
    if decision is not None and not decision.admitted:
        raise exceptions.Throttled(wait=decision.retry_after)


class PerKeyRateThrottle(throttling.BaseThrottle):
    """N requests per minute per key and M per company (however many keys it creates), counted
    atomically in Redis (``reporting.api.ratelimit``); over either, 429 with ``Retry-After``. The
    decision is kept on the request for the ``RateLimit-*`` headers of every answer."""

    rate = settings.API_RATE_LIMIT_PER_KEY
    company_rate = settings.API_RATE_LIMIT_PER_COMPANY
    address_rate = settings.API_RATE_LIMIT_PER_ADDRESS

    def allow_request(self, request: Request, view: APIView) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return True  # refused by the permission check; limited by address in authenticate()
        # The key's random prefix, not its row id: ids repeat across schemas sharing one Redis.
        schema = connection.schema_name
        self.decision = ratelimit.hit(
            [(f"api:key:{schema}:{key.prefix}", self.rate), (f"api:company:{schema}", self.company_rate)]
        )
        request.rate_limit = self.decision
        return self.decision is None or self.decision.admitted

    def wait(self) -> float | None:
        return self.decision.retry_after if self.decision is not None else None


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "reporting.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A key created in the portal (API keys)."}
