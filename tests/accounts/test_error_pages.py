"""Styled error pages (403, 404, 500) on every host, and the API keys page in the portal's menu."""

from __future__ import annotations

from django.test import RequestFactory
from django.views.defaults import server_error

from accounts.models import Role
from tests.conftest import http, logged_in, make_user


def test_an_unknown_page_is_a_styled_404_on_a_client_host_and_the_platform(db, tenants):
    for tenant in (tenants.alpha, None):
        response = http(tenant).get("/no-such-page/")
        assert response.status_code == 404
        page = response.content.decode()
        assert "Page not found" in page and "css/app" in page
        assert "Using the URLconf" not in page  # never Django's technical page


def test_a_refusal_is_a_styled_403_that_says_why(db, tenants):
    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))
    response = viewer.get("/api-keys/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "You may not open this page" in page
    assert "Only your company&#x27;s admins may do this." in page


def test_a_server_error_is_a_styled_500_that_needs_no_database():
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


def test_the_api_keys_page_is_in_the_menu_of_a_company_admin_only(db, tenants):
    admin = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_ADMIN))
    assert 'href="/api-keys/">API keys</a>' in admin.get("/").content.decode()
    editor = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_EDITOR))
    assert "/api-keys/" not in editor.get("/").content.decode()
