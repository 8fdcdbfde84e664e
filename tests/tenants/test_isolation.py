"""A client company's data is invisible from every other one: ORM, HTTP, Celery and WebSocket."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context
from websockets.exceptions import ConnectionClosed, InvalidStatus

from accounts.models import Role, User
from accounts.tasks import send_invitation
from tests.conftest import http, logged_in, make_user
from tests.sockets import open_socket, receive_json


def test_a_user_written_in_one_schema_is_invisible_in_the_other(db, tenants):
    make_user(tenants.alpha, role=Role.CLIENT_VIEWER, username="only-in-alpha")
    with tenant_context(tenants.alpha):
        assert User.objects.filter(username="only-in-alpha").exists()
    with tenant_context(tenants.beta):
        assert not User.objects.filter(username="only-in-alpha").exists()
    assert not User.objects.filter(username="only-in-alpha").exists()  # nor in public


def test_a_tenant_host_lists_only_its_own_team(db, tenants):
    alpha_admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN, first_name="Alfred")
    beta_admin = make_user(tenants.beta, role=Role.CLIENT_ADMIN, first_name="Bertha")

    alpha_page = logged_in(tenants.alpha, alpha_admin).get("/team/").content.decode()
    beta_page = logged_in(tenants.beta, beta_admin).get("/team/").content.decode()

    assert "Alfred" in alpha_page and "Bertha" not in alpha_page
    assert "Bertha" in beta_page and "Alfred" not in beta_page


def test_login_on_one_tenant_host_does_not_authenticate_on_another(db, tenants):
    user = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    alpha = logged_in(tenants.alpha, user)
    assert alpha.get("/").status_code == 200

    beta = http(tenants.beta)
    beta.cookies["sessionid"] = alpha.cookies["sessionid"].value  # the stolen cookie, replayed
    response = beta.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_tenant_user_cannot_log_in_on_another_tenant_or_the_platform(db, tenants):
    user = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    for client in (http(tenants.beta), http(None)):
        response = client.post("/login/", {"username": user.username, "password": "correct-horse-battery"})
        assert response.status_code == 200
        assert "correct username and password" in response.content.decode()


@pytest.mark.parametrize("host", ["nobody.localhost", "evil.example.com", "localhost.evil.com"])
def test_an_unknown_host_gets_404_and_nothing_of_the_public_schema(db, tenants, host):
    client = http(None)
    for path in ["/", "/staff/", "/login/", "/admin/", "/healthz"]:
        response = client.get(path, HTTP_HOST=host)
        assert response.status_code == 404
        assert b"No client company is served at this address" in response.content
        assert settings.PLATFORM_NAME.encode() not in response.content


def test_a_tenant_host_has_no_platform_pages(db, tenants):
    admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN, is_staff=True, is_superuser=True)
    client = logged_in(tenants.alpha, admin)
    assert client.get("/admin/").status_code == 404
    assert client.get("/staff/").status_code == 404


def test_platform_staff_home_refuses_when_not_logged_in(db, tenants):
    response = http(None).get("/staff/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_task_sent_from_a_tenant_request_runs_in_that_schema_in_a_real_worker(
    committed, tenants, celery_worker
):
    admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    email = f"new-{uuid.uuid4().hex[:8]}@alpha.example"
    client = logged_in(tenants.alpha, admin)

    response = client.post("/team/", {"email": email, "first_name": "Nina", "role": Role.CLIENT_EDITOR})
    assert response.status_code == 302

    with tenant_context(tenants.alpha):
        invited = User.objects.get(email=email)
    # The same task, run by the worker, found the user: it ran in alpha's schema.
    result = send_invitation.apply_async(
        kwargs={"user_id": invited.pk, "link": "x", "invited_by": "test"},
        headers={"_schema_name": tenants.alpha.schema_name},
    ).get(timeout=30)
    assert result == {"schema": tenants.alpha.schema_name, "sent": True, "email": email}
    # In beta the same id means nothing (or someone else): the worker does not see alpha's user.
    result = send_invitation.apply_async(
        kwargs={"user_id": invited.pk, "link": "x", "invited_by": "test"},
        headers={"_schema_name": tenants.beta.schema_name},
    ).get(timeout=30)
    assert result.get("email") != email and result["schema"] == tenants.beta.schema_name


def test_invitation_sent_on_commit_reaches_the_worker_in_the_tenant_schema(committed, tenants, celery_worker):
    from celery.result import AsyncResult

    admin = make_user(tenants.beta, role=Role.CLIENT_ADMIN)
    email = f"hook-{uuid.uuid4().hex[:8]}@beta.example"
    sent: list = []
    original = send_invitation.delay

    def spy(*args, **kwargs):
        result = original(*args, **kwargs)
        sent.append(result.id)
        return result

    send_invitation.delay = spy
    try:
        logged_in(tenants.beta, admin).post(
            "/team/", {"email": email, "first_name": "Bo", "role": "client_viewer"}
        )
    finally:
        send_invitation.delay = original
    assert len(sent) == 1
    outcome = AsyncResult(sent[0]).get(timeout=30)
    assert outcome == {"schema": tenants.beta.schema_name, "sent": True, "email": email}


def test_a_tenant_task_refuses_to_run_in_the_public_schema(committed, tenants, celery_worker):
    result = send_invitation.apply_async(kwargs={"user_id": 1, "link": "x", "invited_by": "t"})
    with pytest.raises(RuntimeError, match="must be sent from inside a client company's schema"):
        result.get(timeout=30)


def _session_of(tenant, role=Role.CLIENT_ADMIN, **fields) -> tuple[User, str]:
    user = make_user(tenant, role=role, **fields)
    return user, logged_in(tenant, user).cookies["sessionid"].value


def test_portal_socket_greets_with_the_own_team_only(committed, tenants, asgi_server):
    alpha_user, session = _session_of(tenants.alpha, first_name="Sock")
    beta_user = make_user(tenants.beta, role=Role.CLIENT_VIEWER)

    with open_socket(asgi_server.port, tenants.alpha.host, "/ws/portal/", session) as ws:
        hello = receive_json(ws)
    assert hello["type"] == "hello" and hello["company"] == tenants.alpha.name
    usernames = {member["username"] for member in hello["team"]}
    assert alpha_user.username in usernames and beta_user.username not in usernames


def assert_socket_refused(port: int, host: str, session: str | None = None) -> None:
    """Refused at the handshake (403) or closed before anything is sent."""
    try:
        with open_socket(port, host, "/ws/portal/", session) as ws:
            message = ws.recv(timeout=10)
    except InvalidStatus as refused:
        status = refused.response.status_code
    except ConnectionClosed:
        return
    else:
        pytest.fail(f"the socket was open and said {message!r}")
    assert status in (403, 404)


def test_a_session_of_one_tenant_opens_no_socket_on_another(committed, tenants, asgi_server):
    _, session = _session_of(tenants.alpha)
    assert_socket_refused(asgi_server.port, tenants.beta.host, session)


def test_a_socket_without_session_or_on_an_unknown_host_is_refused(committed, tenants, asgi_server):
    _, session = _session_of(tenants.alpha)
    assert_socket_refused(asgi_server.port, tenants.alpha.host)
    assert_socket_refused(asgi_server.port, "ghost.localhost", session)
    assert_socket_refused(asgi_server.port, "localhost", session)  # platform host: not a portal


def test_the_web_servers_threads_serve_each_request_in_its_own_tenant(committed, tenants, asgi_server):
    """HTTP runs on a pool of reused threads (config.asgi): requests alternating between two
    companies, more than there are threads, each see their own company's team only."""
    import urllib.request

    alpha_user, alpha_session = _session_of(tenants.alpha)
    beta_user, beta_session = _session_of(tenants.beta)
    sides = [
        (tenants.alpha, alpha_session, alpha_user, beta_user),
        (tenants.beta, beta_session, beta_user, alpha_user),
    ]
    for _ in range(settings.WEB_THREADS + 2):
        for tenant, session, own, other in sides:
            request = urllib.request.Request(
                f"http://127.0.0.1:{asgi_server.port}/team/",
                headers={"Host": tenant.host, "Cookie": f"sessionid={session}"},
            )
            with urllib.request.urlopen(request, timeout=20) as response:
                page = response.read().decode()
            assert own.username in page and other.username not in page
