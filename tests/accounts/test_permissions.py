"""The role checks every page and socket uses (``accounts.permissions``)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory

from accounts import permissions
from accounts.models import Role, User

EXPECTED = {
    "CLIENT_STAFF": {Role.CLIENT_ADMIN, Role.CLIENT_EDITOR, Role.CLIENT_VIEWER},
    "CLIENT_EDITORS": {Role.CLIENT_ADMIN, Role.CLIENT_EDITOR},
    "CLIENT_ADMINS": {Role.CLIENT_ADMIN},
    "PLATFORM_STAFF": {Role.OPERATOR, Role.SUPERVISOR, Role.ACCOUNT_MANAGER, Role.PLATFORM_ADMIN},
    "OPERATORS": {Role.OPERATOR},
    "SUPERVISORS": {Role.SUPERVISOR, Role.PLATFORM_ADMIN},
    "ACCOUNT_MANAGERS": {Role.ACCOUNT_MANAGER, Role.PLATFORM_ADMIN},
    "BACK_OFFICE": {Role.SUPERVISOR, Role.ACCOUNT_MANAGER, Role.PLATFORM_ADMIN},
    "SCRIPT_ACTIVATORS": {Role.CLIENT_ADMIN, Role.ACCOUNT_MANAGER, Role.PLATFORM_ADMIN},
}


@pytest.mark.parametrize("name", EXPECTED)
def test_each_audience_is_exactly_its_roles_and_refuses_the_rest(name):
    audience = getattr(permissions, name)
    for role in Role:
        user = User(username="u", role=role, is_active=True)
        assert audience.allows(user) == (role in EXPECTED[name]), (name, role)
    assert not audience.allows(AnonymousUser())
    insider = User(username="u", role=next(iter(EXPECTED[name])), is_active=False)
    assert not audience.allows(insider)  # an inactive account is nobody's


def test_require_refuses_with_the_audiences_message():
    with pytest.raises(PermissionDenied, match=r"Account managers only\."):
        permissions.require(permissions.ACCOUNT_MANAGERS, User(role=Role.SUPERVISOR, is_active=True))
    permissions.require(permissions.ACCOUNT_MANAGERS, User(role=Role.PLATFORM_ADMIN, is_active=True))


def test_role_required_sends_strangers_to_the_login_and_refuses_outsiders():
    @permissions.role_required(permissions.OPERATORS)
    def view(request):
        return HttpResponse("ok")

    request = RequestFactory().get("/console/")
    request.user = AnonymousUser()
    response = view(request)
    assert response.status_code == 302 and "/login/" in response["Location"]
    request.user = User(role=Role.SUPERVISOR, is_active=True)
    with pytest.raises(PermissionDenied):
        view(request)
    request.user = User(role=Role.OPERATOR, is_active=True)
    assert view(request).content == b"ok"


def test_templates_ask_the_same_audiences():
    from django.template import Context, Template

    request = RequestFactory().get("/")
    request.user = User(role=Role.ACCOUNT_MANAGER, is_active=True)
    template = Template(
        "{% if may.ACCOUNT_MANAGERS %}invoices{% endif %}{% if may.SUPERVISORS %}wallboard{% endif %}"
    )
    assert template.render(Context(permissions.may(request))) == "invoices"
    request.user = AnonymousUser()
    assert template.render(Context(permissions.may(request))) == ""
