"""The platform's foundation: tenant creation, health, settings, people and their pages."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core import mail
from django.db import connection
from django.test import override_settings
from django_tenants.utils import schema_exists, tenant_context

from accounts.invitations import invitation_link
from accounts.models import Role, User
from tenants.clients import client_create
from tenants.models import Client, Domain
from tests.conftest import ROOT, http, logged_in, make_user


def _tables(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def _shape(schema: str) -> dict[str, set[tuple]]:
    """Columns (type, nullability, default kind), constraints and indexes of a schema, by name."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default IS NOT NULL, is_identity"
            " FROM information_schema.columns WHERE table_schema = %s",
            [schema],
        )
        columns = set(cursor.fetchall())
        cursor.execute(
            "SELECT conrelid::regclass::text, contype, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE connamespace = %s::regnamespace",
            [schema],
        )
        constraints = {
            (t.split(".")[-1], kind, d.replace(f"{schema}.", "")) for t, kind, d in cursor.fetchall()
        }
        cursor.execute("SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = %s", [schema])
        indexes = {(t, d.replace(f"{schema}.", "").split(" ON ", 1)[1]) for t, d in cursor.fetchall()}
    return {"columns": columns, "constraints": constraints, "indexes": indexes}


def _applied(schema: str) -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations')
        return set(cursor.fetchall())


def test_a_new_tenant_is_cloned_from_the_current_base_schema(db, tenants):
    client = client_create(slug="clonecheck", name="Clone Check")

    assert schema_exists(client.schema_name)
    assert client.host == "clonecheck.localhost"
    assert Domain.objects.get(tenant=client).domain == "clonecheck.localhost"
    assert _tables(client.schema_name) == _tables("tenant_base")
    assert _applied(client.schema_name) == _applied("tenant_base")
    new, base = _shape(client.schema_name), _shape("tenant_base")
    assert {(c[0], c[1]) for c in new["columns"]} == {(c[0], c[1]) for c in base["columns"]}
    assert new["columns"] == {c for c in base["columns"]}  # types, nullability, defaults
    assert new["constraints"] == base["constraints"]
    assert new["indexes"] == base["indexes"]
    assert "accounts_user" in _tables(client.schema_name)
    assert "tenants_client" not in _tables(client.schema_name)  # public-only tables stay in public


def test_the_base_schema_holds_every_tenant_migration(db, tenants):
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(connection)
    tenant_apps = {"accounts", "auth", "contenttypes", "sessions"}
    expected = {key for key in loader.disk_migrations if key[0] in tenant_apps}
    assert expected <= _applied("tenant_base")


def test_companies_are_every_client_but_the_platform(db, tenants):
    companies = set(Client.objects.companies())
    assert {tenants.alpha, tenants.beta} <= companies
    assert Client.objects.get(schema_name="public") not in companies
    assert set(Client.objects.filter(slug=tenants.alpha.slug).companies()) == {tenants.alpha}


@pytest.mark.parametrize("slug", ["", "a", "Acme", "acme_corp", "-acme", "acme-", "x" * 60])
def test_a_bad_slug_is_refused_and_creates_nothing(db, tenants, slug):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        client_create(slug=slug, name="Bad")
    assert not Client.objects.filter(name="Bad").exists()


def test_healthz_is_200_on_every_host_when_database_redis_and_a_worker_are_up(
    committed, tenants, celery_worker
):
    for tenant in (None, tenants.alpha, tenants.beta):
        response = http(tenant).get("/healthz")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok"
        assert body["database"]["ok"] and body["redis"]["ok"] and body["celery"]["workers"] >= 1


def test_healthz_is_503_and_says_why_when_no_worker_reports(db, tenants):
    with override_settings(CELERY_WORKER_HEARTBEAT_KEY="cc:celery:nobody-here"):
        response = http(tenants.alpha).get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded" and body["database"]["ok"] and body["redis"]["ok"]
    assert body["celery"] == {"ok": False, "workers": 0, "error": "no worker has reported in the last 15 s"}


def test_healthz_is_503_when_redis_is_down(db, tenants):
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
        response = http(None).get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"]["ok"] is False


def _settings_in_subprocess(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DJANGO_ENV", "SECRET_KEY", "DJANGO_DEBUG"}}
    clean["DJANGO_SETTINGS_MODULE"] = "config.settings"
    return subprocess.run(
        [sys.executable, "-c", f"import django; {code}"],
        env={**clean, **env}, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_production_refuses_to_start_without_a_secret_key():
    result = _settings_in_subprocess({}, "django.setup()")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_is_safe_by_default():
    code = (
        "from django.conf import settings as s; django.setup(); "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_DOMAIN, "
        "s.SECURE_PROXY_SSL_HEADER, sorted(s.ALLOWED_HOSTS))"
    )
    result = _settings_in_subprocess({"SECRET_KEY": "x" * 50, "PLATFORM_HOST": "cc.example.com"}, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "False True True None ('HTTP_X_FORWARDED_PROTO', 'https') ['.cc.example.com', 'cc.example.com']"
    )


def test_only_platform_admins_reach_the_django_admin(db, tenants, platform_admin):
    operator = make_user(None, role=Role.OPERATOR)
    assert logged_in(None, platform_admin).get("/admin/").status_code == 200
    response = logged_in(None, operator).get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_home_lists_client_companies_for_staff_only(db, tenants):
    manager = make_user(None, role=Role.ACCOUNT_MANAGER)
    page = logged_in(None, manager).get("/staff/").content.decode()
    assert "Alpha Ltd" in page and "alpha.localhost" in page and "Beta GmbH" in page


def test_a_client_admin_invites_a_colleague_who_chooses_a_password_and_logs_in(
    db, tenants, django_capture_on_commit_callbacks
):
    admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    client = logged_in(tenants.alpha, admin)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            "/team/", {"email": "Zoe@Alpha.example", "first_name": "Zoe", "role": "client_editor"}
        )
    assert response.status_code == 302
    # The e-mail goes out only once the user is committed (beside it: caches of users forgotten).
    invitations = [c.__qualname__ for c in callbacks if "invite" in c.__qualname__]
    assert invitations == ["invite_member.<locals>.send"]

    with tenant_context(tenants.alpha):
        zoe = User.objects.get(email="zoe@alpha.example")
        assert zoe.role == Role.CLIENT_EDITOR and not zoe.has_usable_password()
        link = invitation_link(user=zoe, host=tenants.alpha.host, secure=False)
    path = link.split(tenants.alpha.host, 1)[1]

    fresh = http(tenants.alpha)
    form = fresh.get(path, follow=True)
    assert b"Choose your password" in form.content
    set_url = form.redirect_chain[-1][0]
    done = fresh.post(
        set_url, {"new_password1": "a-long-new-secret-9", "new_password2": "a-long-new-secret-9"}
    )
    assert done.status_code == 302
    assert (
        fresh.post(
            "/login/", {"username": "zoe@alpha.example", "password": "a-long-new-secret-9"}
        ).status_code
        == 302
    )
    assert b"Zoe" in fresh.get("/team/").content


def test_the_invitation_task_sends_the_link_by_email(db, tenants):
    from accounts.tasks import send_invitation

    user = make_user(tenants.alpha, role=Role.CLIENT_VIEWER, first_name="Mia")
    user_pk = user.pk
    with tenant_context(tenants.alpha):
        User.objects.filter(pk=user_pk).update(password="!unusable")
        result = send_invitation.apply(
            kwargs={"user_id": user_pk, "link": "http://x/reset/a/b/", "invited_by": "Al"}
        ).get()
    assert result["sent"] is True
    assert mail.outbox[-1].to == [user.email]
    assert "http://x/reset/a/b/" in mail.outbox[-1].body and "Alpha Ltd" in mail.outbox[-1].subject


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "not-an-email", "first_name": "A", "role": "client_viewer"}, "email"),
        ({"email": "ok@example.com", "first_name": "", "role": "client_viewer"}, "first_name"),
        ({"email": "ok@example.com", "first_name": "A", "role": "platform_admin"}, "role"),
    ],
)
def test_a_bad_invitation_shows_field_errors_and_saves_nothing(db, tenants, data, field):
    admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    response = logged_in(tenants.alpha, admin).post("/team/", data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    with tenant_context(tenants.alpha):
        assert User.objects.count() == 1


def test_inviting_the_same_person_twice_keeps_one_user(db, tenants):
    admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    client = logged_in(tenants.alpha, admin)
    data = {"email": "twice@alpha.example", "first_name": "T", "role": "client_viewer"}
    assert client.post("/team/", data).status_code == 302
    again = client.post("/team/", data)
    assert again.status_code == 200 and "already in your team" in again.content.decode()
    with tenant_context(tenants.alpha):
        assert User.objects.filter(email="twice@alpha.example").count() == 1


@pytest.mark.parametrize("role", [Role.CLIENT_EDITOR, Role.CLIENT_VIEWER])
def test_only_client_admins_invite(db, tenants, role):
    member = make_user(tenants.alpha, role=role)
    response = logged_in(tenants.alpha, member).post(
        "/team/", {"email": "x@alpha.example", "first_name": "X", "role": "client_viewer"}
    )
    assert response.status_code == 403
    with tenant_context(tenants.alpha):
        assert not User.objects.filter(email="x@alpha.example").exists()


def test_platform_staff_cannot_use_a_portal_and_vice_versa(db, tenants):
    operator = make_user(None, role=Role.OPERATOR)
    assert logged_in(None, operator).get("/staff/").status_code == 200
    client_admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    assert logged_in(tenants.alpha, client_admin).get("/").status_code == 200


def test_demo_is_idempotent(db, tenants):
    from django.core.management import call_command

    call_command("demo", verbosity=0)
    counts = (Client.objects.count(), User.objects.count())
    call_command("demo", verbosity=0)
    assert (Client.objects.count(), User.objects.count()) == counts
    acme = Client.objects.get(slug="acme")
    assert acme.status == Client.Status.ACTIVE and acme.host == "acme.localhost"
    with tenant_context(acme):
        assert set(User.objects.values_list("role", flat=True)) == {
            Role.CLIENT_ADMIN, Role.CLIENT_EDITOR, Role.CLIENT_VIEWER
        }  # fmt: skip


def test_an_invitation_that_loses_a_race_is_a_form_error_not_a_500(db, tenants, monkeypatch):
    from django.db import IntegrityError

    from accounts.models import User as UserModel

    admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    client = logged_in(tenants.alpha, admin)

    def collide(self, *args, **kwargs):  # the other request inserted the same username first
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(UserModel, "save", collide)
    response = client.post(
        "/team/", {"email": "race@alpha.example", "first_name": "R", "role": "client_viewer"}
    )
    assert response.status_code == 200
    assert "already in your team" in response.content.decode()


def test_an_invitation_that_could_not_be_sent_says_so_and_an_admin_sends_it_again(
    committed, tenants, broken_publish
):
    """Committed for real: the invitation's send is tried as its user commits, before the page answers."""
    import uuid

    tag = uuid.uuid4().hex[:8]
    admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    client = logged_in(tenants.alpha, admin)
    data = {"email": f"lost-{tag}@alpha.example", "first_name": "Lou", "role": "client_viewer"}
    page = client.post("/team/", data, follow=True).content.decode()
    assert "the invitation could not be sent just now" in page and broken_publish.tries == 3
    assert "Send the invitation again" in page  # Lou is in the team, invited
    with tenant_context(tenants.alpha):
        lou = User.objects.get(email=data["email"])
    assert broken_publish.sent == [] and not lou.has_usable_password()

    again = f"/team/{lou.pk}/invite/"
    assert (
        "could not be sent just now" in client.post(again, follow=True).content.decode()
    )  # Redis still away
    broken_publish.failures = broken_publish.tries  # the broker is back
    assert f"Invitation sent again to {lou.email}." in client.post(again, follow=True).content.decode()
    assert broken_publish.sent == ["accounts.tasks.send_invitation"]
    with tenant_context(tenants.alpha):
        from tenants.models import AuditEvent

        events = AuditEvent.objects.filter(action="member.invited_again", after__user=lou.username)
        assert sorted(e.after["sent"] for e in events) == [False, True]

    data = {"email": f"kim-{tag}@alpha.example", "first_name": "Kim", "role": "client_viewer"}
    page = client.post("/team/", data, follow=True).content.decode()
    assert f"Invitation sent to {data['email']}." in page and "could not be sent" not in page
    assert broken_publish.sent == ["accounts.tasks.send_invitation"] * 2


def test_only_an_admin_invites_again_and_only_a_colleague_still_invited(db, tenants, broken_publish):
    broken_publish.failures = 0  # the broker works
    admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    editor = make_user(tenants.alpha, role=Role.CLIENT_EDITOR)
    client = logged_in(tenants.alpha, admin)
    refused = client.post(f"/team/{editor.pk}/invite/", follow=True).content.decode()
    assert "has not chosen a password yet" in refused  # the editor has one: nothing to send
    assert logged_in(tenants.alpha, editor).post(f"/team/{admin.pk}/invite/").status_code == 403
    with tenant_context(tenants.beta):
        stranger = (
            User.objects.create(  # invited in beta; no such user in alpha (user tables are per company)
                pk=9999,
                username="s@beta.example",
                email="s@beta.example",
                password="!",
                role=Role.CLIENT_VIEWER,
            )
        )
    with tenant_context(tenants.alpha):
        assert not User.objects.filter(pk=stranger.pk).exists()
    assert client.post(f"/team/{stranger.pk}/invite/").status_code == 404  # another company's people
    assert broken_publish.sent == []
