"""Login throttling on every host: per account (django-axes) and per client address (Redis).

* **Per account**: django-axes counts failed logins per account and locks it after
  ``AXES_FAILURE_LIMIT`` failures for ``AXES_COOLOFF_TIME`` (even the right password is refused
  meanwhile). Each client company has its own user table, so the account is ``<schema>:<username>``
  (``account_key``): failures for ``bob`` at one company never lock ``bob`` at another.
* **Per address**: failed logins and invalid invitation / password links are counted per client
  address in a sliding window (``LOGIN_FAILURES_PER_ADDRESS``, e.g. ``30/15min``); past it, the
  login forms and the password links answer 429 for that address, on every host.
* **Events**: each failure is logged (and kept as axes' AccessFailureLog), each lockout is logged
  at WARNING. **Unlocking**: platform staff delete the account's attempts in the admin
  (Axes → Access attempts), or run ``manage.py unlock_login --account <schema>:<username>`` or
  ``--address <ip>``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_login_failed
from django.db import connection
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from config import ratelimit

log = logging.getLogger(__name__)

LOGIN_PATHS = frozenset({"/login/", "/admin/login/", "/password-reset/"})
RESET_PREFIX = "/reset/"


def _schema(request: HttpRequest | None) -> str:
    tenant = getattr(request, "tenant", None)
    return getattr(tenant, "schema_name", None) or connection.schema_name


def account_key(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """django-axes' name for the account: the schema (one user table each) and the username."""
    username = (credentials or {}).get(settings.AXES_USERNAME_FORM_FIELD)
    if username is None and request is not None:
        username = request.POST.get(settings.AXES_USERNAME_FORM_FIELD, "")
    return f"{_schema(request)}:{username or ''}"


def client_address(request: HttpRequest) -> str:
    """The client's address as the server sees it (behind the proxy, uvicorn's --proxy-headers set it)."""
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _address_bucket(address: str) -> str:
    return f"login:address:{address}"


def record_failure(request: HttpRequest, *, what: str, account: str = "") -> None:
    """One failure for the request's address (and, for a password link, for its account)."""
    address = client_address(request)
    buckets = [(_address_bucket(address), settings.LOGIN_FAILURES_PER_ADDRESS)]
    if account:
        buckets.append((f"login:link:{account}", settings.LOGIN_FAILURES_PER_ACCOUNT_LINK))
    ratelimit.hit(buckets, mode="add")
    log.info("%s failed from %s on %s%s", what, address, _schema(request), f" ({account})" if account else "")


def record_reset_request(request: HttpRequest) -> None:
    """A password reset request counts against the address like a failure: the form cannot be used
    to flood a mailbox or to probe many addresses."""
    address = client_address(request)
    ratelimit.hit([(_address_bucket(address), settings.LOGIN_FAILURES_PER_ADDRESS)], mode="add")
    log.info("password reset asked from %s on %s", address, _schema(request))


def refused(request: HttpRequest, *, account: str = "") -> HttpResponse | None:
    """A 429 page when the address (or the link's account) failed too often lately, else None."""
    buckets = [(_address_bucket(client_address(request)), settings.LOGIN_FAILURES_PER_ADDRESS)]
    if account:
        buckets.append((f"login:link:{account}", settings.LOGIN_FAILURES_PER_ACCOUNT_LINK))
    decision = ratelimit.hit(buckets, mode="peek")
    if decision is None or decision.admitted:
        return None
    minutes = max(1, -(-decision.retry_after // 60))
    response = render(request, "registration/throttled.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(decision.retry_after)
    return response


def unlock_address(address: str) -> bool:
    return ratelimit.forget(_address_bucket(address))


class LoginThrottleMiddleware:
    """Refuses the login forms (POST) and the password links (any method) to an address that failed
    too often; placed after the tenant and session middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        throttled = (request.method == "POST" and request.path in LOGIN_PATHS) or request.path.startswith(
            RESET_PREFIX
        )
        if throttled and (response := refused(request)) is not None:
            return response
        return self.get_response(request)


@receiver(user_login_failed)
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    if request is not None:
        record_failure(request, what="login")


class PasswordSetView(auth_views.PasswordResetConfirmView):
    """The invitation's and password reset's link: an invalid link counts as a failure for the
    address and for the account it names; past the limit, 429 (``LoginThrottleMiddleware`` and here)."""

    success_url = "/login/"

    def dispatch(self, *args: Any, **kwargs: Any) -> HttpResponse:
        account = f"{_schema(self.request)}:{kwargs.get('uidb64', '')}"
        if (response := refused(self.request, account=account)) is not None:
            return response
        response = super().dispatch(*args, **kwargs)
        # 200 without a valid link: "this link has expired" (a valid one redirects, or shows the form)
        if response.status_code == 200 and not getattr(self, "validlink", False):
            record_failure(self.request, what="password link", account=account)
        return response

    def form_valid(self, form: Any) -> HttpResponse:
        messages.success(self.request, "Your password is saved: log in with it.")
        return super().form_valid(form)
