"""Logins are throttled on every host and role: per account (one company's ``bob`` is not another's),
per client address, on the invitation and password links too; staff can unlock; lockouts are logged."""

from __future__ import annotations

import itertools
import logging

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client as HttpClient
from django.test import override_settings
from django_tenants.utils import tenant_context

from accounts.invitations import invitation_link
from accounts.models import Role
from tests.conftest import PASSWORD, http, logged_in, make_user

_addresses = (f"198.51.100.{n}" for n in itertools.count(1))


def from_address(tenant, address: str | None = None) -> HttpClient:
    """A client of the tenant's host (the platform's for None) from an address of its own."""
    client = http(tenant)
    client.defaults["REMOTE_ADDR"] = address or next(_addresses)
    return client


def login(tenant, username: str, password: str, *, address: str | None = None, path: str = "/login/") -> int:
    return from_address(tenant, address).post(path, {"username": username, "password": password}).status_code


@pytest.fixture(autouse=True)
def fresh_buckets():
    cache.clear()  # the address buckets live in the cache's Redis database
    yield
    cache.clear()


@pytest.mark.parametrize("host", ["alpha", "platform"])
def test_forty_wrong_passwords_lock_the_account_so_the_right_one_is_refused_too(db, tenants, host, caplog):
    tenant = tenants.alpha if host == "alpha" else None
    role = Role.CLIENT_EDITOR if tenant else Role.PLATFORM_ADMIN
    user = make_user(tenant, role=role, is_staff=tenant is None, is_superuser=tenant is None)
    # Each guess from another address: only the account's own count can stop them.
    codes = [login(tenant, user.username, f"wrong-{n}") for n in range(40)]
    assert codes[:4] == [200] * 4 and set(codes[4:]) == {429}  # the 5th failure locks
    with caplog.at_level(logging.WARNING):
        assert login(tenant, user.username, PASSWORD) == 429
        if tenant is None:
            assert login(None, user.username, PASSWORD, path="/admin/login/") == 429
    page = from_address(tenant).post("/login/", {"username": user.username, "password": PASSWORD})
    assert "This account is locked after 5 failed logins" in page.content.decode()
    assert any("locked out" in r.getMessage() and user.username in r.getMessage() for r in caplog.records)


def test_the_django_admin_login_locks_a_platform_admin_as_well(db, tenants):
    admin = make_user(None, role=Role.PLATFORM_ADMIN, is_staff=True, is_superuser=True)
    codes = [login(None, admin.username, f"wrong-{n}", path="/admin/login/") for n in range(6)]
    assert codes[:4] == [200] * 4 and codes[4:] == [429, 429]
    assert login(None, admin.username, PASSWORD, path="/admin/login/") == 429


def test_locking_bob_at_one_company_leaves_bob_at_another_company_alone(db, tenants):
    make_user(tenants.alpha, role=Role.CLIENT_EDITOR, username="bob")
    make_user(tenants.beta, role=Role.CLIENT_EDITOR, username="bob")
    for n in range(6):
        login(tenants.alpha, "bob", f"wrong-{n}")
    assert login(tenants.alpha, "bob", PASSWORD) == 429
    assert login(tenants.beta, "bob", PASSWORD) == 302


@override_settings(LOGIN_FAILURES_PER_ADDRESS="8/15min")
def test_an_address_that_keeps_failing_is_held_back_whichever_accounts_and_companies_it_tries(db, tenants):
    address = next(_addresses)
    victim = make_user(tenants.beta, role=Role.CLIENT_EDITOR)
    codes = [login(tenants.alpha, f"user-{n}", "guess", address=address) for n in range(4)]
    codes += [login(None, f"staff-{n}", "guess", address=address) for n in range(4)]
    codes += [login(tenants.beta, victim.username, PASSWORD, address=address)]
    assert codes == [200] * 8 + [429]
    held = from_address(tenants.beta, address).post("/login/", {"username": "x", "password": "y"})
    assert held.status_code == 429 and 1 <= int(held["Retry-After"]) <= 900
    assert login(tenants.beta, victim.username, PASSWORD) == 302  # from another address: fine


def test_staff_unlock_an_account_and_an_address(db, tenants, platform_admin):
    user = make_user(tenants.alpha, role=Role.CLIENT_EDITOR, username="carol")
    address = next(_addresses)
    for n in range(6):
        login(tenants.alpha, "carol", f"wrong-{n}")
    assert login(tenants.alpha, "carol", PASSWORD) == 429
    staff = logged_in(None, platform_admin)
    attempts = staff.get("/admin/axes/accessattempt/")
    assert attempts.status_code == 200 and f"{tenants.alpha.schema_name}:carol" in attempts.content.decode()
    call_command("unlock_login", account=f"{tenants.alpha.schema_name}:carol")
    assert login(tenants.alpha, user.username, PASSWORD) == 302
    with override_settings(LOGIN_FAILURES_PER_ADDRESS="2/15min"):
        for n in range(3):
            login(tenants.alpha, f"nobody-{n}", "guess", address=address)
        assert login(tenants.alpha, user.username, PASSWORD, address=address) == 429
        call_command("unlock_login", address=address)
        assert login(tenants.alpha, user.username, PASSWORD, address=address) == 302


def test_invalid_invitation_links_are_throttled_and_a_valid_one_still_works(db, tenants):
    invited = make_user(tenants.alpha, role=Role.CLIENT_EDITOR, username="zed")
    with tenant_context(tenants.alpha):
        link = invitation_link(user=invited, host=tenants.alpha.host, secure=False)
    path = link.split(tenants.alpha.host, 1)[1]
    uid = path.split("/")[2]
    # Guessing the token of one account, from many addresses: the account's link count stops it.
    codes = [from_address(tenants.alpha).get(f"/reset/{uid}/guess-{n}/").status_code for n in range(7)]
    assert codes == [200] * 5 + [429] * 2
    # From one address, guessing any account: the address's count stops it.
    address = next(_addresses)
    with override_settings(LOGIN_FAILURES_PER_ADDRESS="3/15min"):
        codes = [from_address(tenants.beta, address).get(f"/reset/MT{n}/x-y/").status_code for n in range(4)]
    assert codes == [200, 200, 200, 429]
    other = make_user(tenants.alpha, role=Role.CLIENT_EDITOR, username="yan")
    with tenant_context(tenants.alpha):
        link = invitation_link(user=other, host=tenants.alpha.host, secure=False)
    form = from_address(tenants.alpha).get(link.split(tenants.alpha.host, 1)[1], follow=True)
    assert form.status_code == 200 and b"Choose your password" in form.content
