"""Twilio request signatures: every webhook is refused unless Twilio signed it."""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, QueryDict
from django.views.decorators.http import require_http_methods
from twilio.request_validator import RequestValidator

from config.process_cache import ProcessCache
from tenants.models import Client

log = logging.getLogger(__name__)


def public_url(request: HttpRequest) -> str:
    """The URL Twilio called: the configured public base (behind a proxy) or the request's own."""
    if settings.TWILIO_WEBHOOK_BASE_URL:
        return settings.TWILIO_WEBHOOK_BASE_URL + request.get_full_path()
    return request.build_absolute_uri()


def is_signed(request: HttpRequest) -> bool:
    """Whether ``X-Twilio-Signature`` matches the URL and every POSTed parameter.

    A webhook configured with GET carries its parameters in the query string: Twilio signs the
    whole URL then, and nothing else (its rules for GET)."""
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    # All received parameters, not only the ones we know: Twilio adds fields without notice.
    posted = request.POST if request.method == "POST" else {}
    return RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(public_url(request), posted, signature)


def twilio_fields(request: HttpRequest) -> QueryDict:
    """Twilio's parameters of a webhook: the form of a POST, the query string of a GET."""
    return request.POST if request.method == "POST" else request.GET


# Twilio calls a webhook with the method it is configured with: POST or GET.
webhook_methods = require_http_methods(["GET", "POST"])


def twilio_signed(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """403 (and a log line) unless the request carries a valid Twilio signature."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not is_signed(request):
            log.warning(
                "refused an unsigned or badly signed Twilio webhook: %s %s from %s",
                request.method,
                request.path,
                request.META.get("REMOTE_ADDR"),
            )
            return HttpResponseForbidden("Invalid Twilio signature.")
        return view(request, *args, **kwargs)

    return wrapper


def _company(schema: str) -> Client | None:
    return Client.objects.companies().filter(schema_name=schema).first()


# A call's conference webhooks (a dozen per call) name its company by schema: kept per process, as
# the companies by host are (tenants.resolution), instead of a query per webhook.
COMPANIES_BY_SCHEMA: ProcessCache[str, Client | None] = ProcessCache(
    ttl=settings.TENANT_DOMAIN_CACHE_SECONDS, load_one=_company
).invalidate_on_save(Client)


def named_call(request: HttpRequest) -> tuple[Client, int] | None:
    """The client company (``t``: its schema) and the call (``c``: its id) that a webhook URL we
    signed names; None when either is missing or unknown."""
    schema, call_id = request.GET.get("t", ""), request.GET.get("c", "")
    tenant = COMPANIES_BY_SCHEMA.get(schema) if schema else None
    if tenant is None or not call_id.isdigit():
        return None
    return copy.copy(tenant), int(call_id)
