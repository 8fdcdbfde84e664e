"""Who may do what: the groups of roles the pages, sockets and domain rules check, and the checks.

Platform staff live in the public schema (operators, supervisors, account managers, platform
admins), a client company's staff in its schema (admins, editors, viewers): see ``accounts.models``.
Every role check of the product goes through an ``Audience`` here:
- ``role_required(audience)``: a view decorator; a visitor not logged in is sent to the login
  page, a user outside the audience gets 403;
- ``require(audience, user)``: the same refusal (403) from inside a view, for checks that come
  after others (the HTTP method, a POST-only action of a page anyone in a wider audience reads);
- ``audience.allows(user)``: the yes/no, for sockets and domain rules; templates ask
  ``{% if may.ACCOUNT_MANAGERS %}`` (the context processor ``may``).
Where a page lives (the platform host or a client company's host) is the URL confs' business.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from accounts.models import CLIENT_ROLES, PLATFORM_ROLES, Role

View = Callable[..., HttpResponse]


@dataclass(frozen=True)
class Audience:
    """Who may use a part of the product (their roles), and what anyone else is told."""

    roles: frozenset[str]
    refusal: str

    def allows(self, user: Any) -> bool:
        """Logged in, active, and with one of the roles."""
        return bool(getattr(user, "is_authenticated", False)) and user.has_role(*self.roles)


# A client company's staff, in its schema.
CLIENT_STAFF = Audience(CLIENT_ROLES, "Client company staff only.")
CLIENT_EDITORS = Audience(
    frozenset({Role.CLIENT_ADMIN, Role.CLIENT_EDITOR}), "Only your company's admins and editors may do this."
)
CLIENT_ADMINS = Audience(frozenset({Role.CLIENT_ADMIN}), "Only your company's admins may do this.")
# The platform's staff, in the public schema.
PLATFORM_STAFF = Audience(PLATFORM_ROLES, "Platform staff only.")
OPERATORS = Audience(frozenset({Role.OPERATOR}), "For operators only.")
SUPERVISORS = Audience(frozenset({Role.SUPERVISOR, Role.PLATFORM_ADMIN}), "For supervisors only.")
ACCOUNT_MANAGERS = Audience(frozenset({Role.ACCOUNT_MANAGER, Role.PLATFORM_ADMIN}), "Account managers only.")
BACK_OFFICE = Audience(
    frozenset({Role.SUPERVISOR, Role.ACCOUNT_MANAGER, Role.PLATFORM_ADMIN}),
    "Supervisors and account managers only.",
)
# Both sides: a script version goes live at the client's admins' or at the account managers' word.
SCRIPT_ACTIVATORS = Audience(
    frozenset({Role.CLIENT_ADMIN, Role.ACCOUNT_MANAGER, Role.PLATFORM_ADMIN}), "You may not activate scripts."
)


AUDIENCES = {
    "CLIENT_STAFF": CLIENT_STAFF,
    "CLIENT_EDITORS": CLIENT_EDITORS,
    "CLIENT_ADMINS": CLIENT_ADMINS,
    "PLATFORM_STAFF": PLATFORM_STAFF,
    "OPERATORS": OPERATORS,
    "SUPERVISORS": SUPERVISORS,
    "ACCOUNT_MANAGERS": ACCOUNT_MANAGERS,
    "BACK_OFFICE": BACK_OFFICE,
    "SCRIPT_ACTIVATORS": SCRIPT_ACTIVATORS,
}


def require(audience: Audience, user: Any) -> None:
    """Refuse (403) anyone outside ``audience``."""
    if not audience.allows(user):
        raise PermissionDenied(audience.refusal)


def role_required(audience: Audience) -> Callable[[View], View]:
    """A view for ``audience``: the login page when logged out, 403 for anyone else."""

    def decorate(view: View) -> View:
        @login_required
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            require(audience, request.user)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


class RequestAudiences:
    """``may`` in templates: ``may.ACCOUNT_MANAGERS`` is ``ACCOUNT_MANAGERS.allows(request.user)``
    (the user is read only when a template asks)."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request

    def __getitem__(self, name: str) -> bool:
        return AUDIENCES[name].allows(getattr(self.request, "user", None))


def may(request: HttpRequest) -> dict[str, RequestAudiences]:
    """Template context processor: ``may`` (see ``RequestAudiences``)."""
    return {"may": RequestAudiences(request)}
