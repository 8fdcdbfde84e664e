"""Password reset by e-mail on every host (Django's own views): the account is found in the host's
schema only and the link leads back to the same host; requests are throttled per address."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import override_settings

from accounts.models import Role
from tests.conftest import http, make_user


@pytest.fixture(autouse=True)
def fresh_buckets():
    cache.clear()
    yield
    cache.clear()


def _link(message) -> str:
    return re.search(r"http://\S+/reset/\S+/", message.body).group(0)


@pytest.mark.parametrize("host", ["alpha", "platform"])
def test_a_reset_link_is_mailed_for_the_host_and_sets_a_new_password(db, tenants, host):
    tenant = tenants.alpha if host == "alpha" else None
    user = make_user(tenant, role=Role.CLIENT_EDITOR if tenant else Role.ACCOUNT_MANAGER)
    browser = http(tenant)
    assert 'href="/password-reset/"' in browser.get("/login/").content.decode()
    response = browser.post("/password-reset/", {"email": user.email.upper()})
    assert response.status_code == 302 and response["Location"] == "/password-reset/sent/"
    assert "Check your e-mail" in browser.get("/password-reset/sent/").content.decode()
    (message,) = mail.outbox
    assert message.to == [user.email]
    link = _link(message)
    expected_host = tenant.host if tenant else "localhost"
    assert link.startswith(f"http://{expected_host}/reset/")
    if tenant:
        assert "Alpha Ltd" in message.subject
    path = link.split(expected_host, 1)[1]
    form = browser.get(path, follow=True)
    assert "new_password1" in form.content.decode()
    done = browser.post(form.redirect_chain[-1][0], {"new_password1": "a-brand-new-secret-42",
                                                     "new_password2": "a-brand-new-secret-42"})  # fmt: skip
    assert done.status_code == 302 and done["Location"] == "/login/"
    assert (
        browser.post("/login/", {"username": user.username, "password": "a-brand-new-secret-42"}).status_code
        == 302
    )
    assert browser.get(path).context["validlink"] is False  # the link works once


def test_another_company_s_user_gets_no_mail_and_the_answer_reveals_nothing(db, tenants):
    beta_user = make_user(tenants.beta, role=Role.CLIENT_ADMIN)
    response = http(tenants.alpha).post("/password-reset/", {"email": beta_user.email})
    assert response.status_code == 302 and response["Location"] == "/password-reset/sent/"
    assert mail.outbox == []
    make_user(None, role=Role.ACCOUNT_MANAGER, username=beta_user.username)  # same name on the platform
    http(None).post("/password-reset/", {"email": "nobody@example.com"})
    assert mail.outbox == []


@override_settings(LOGIN_FAILURES_PER_ADDRESS="3/15min")
def test_reset_requests_are_throttled_per_address(db, tenants):
    browser = http(tenants.alpha)
    browser.defaults["REMOTE_ADDR"] = "198.51.100.250"
    codes = [browser.post("/password-reset/", {"email": f"x{n}@example.com"}).status_code for n in range(5)]
    assert codes[:3] == [302] * 3 and codes[3:] == [429, 429]


def test_a_colleague_invited_who_never_chose_a_password_may_ask_for_a_link(db, tenants):
    """The invitation e-mail was lost or its link expired (and a new company's first admin has
    nobody to invite them again): the login page's "Forgot your password?" mails them a link.
    Nobody deactivated, and nobody who logged in once and lost their password otherwise, does."""
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from accounts.models import User

    invited = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    gone = make_user(tenants.alpha, role=Role.CLIENT_VIEWER)
    locked = make_user(tenants.alpha, role=Role.CLIENT_VIEWER)
    with tenant_context(tenants.alpha):
        User.objects.filter(pk__in=[invited.pk, gone.pk, locked.pk]).update(
            password="!unusable", last_login=None
        )
        User.objects.filter(pk=gone.pk).update(is_active=False)
        User.objects.filter(pk=locked.pk).update(last_login=timezone.now())
    browser = http(tenants.alpha)
    for user in (gone, locked, invited):
        assert browser.post("/password-reset/", {"email": user.email}).status_code == 302
    (message,) = mail.outbox
    assert message.to == [invited.email]
    path = _link(message).split(tenants.alpha.host, 1)[1]
    form = browser.get(path, follow=True)
    browser.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-first-secret-42", "new_password2": "a-first-secret-42"},
    )
    assert (
        browser.post("/login/", {"username": invited.username, "password": "a-first-secret-42"}).status_code
        == 302
    )
