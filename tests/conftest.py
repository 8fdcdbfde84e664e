"""Shared fixtures: a platform with two standing client companies, real servers, a real browser.

Two kinds of tests:
- ``db`` tests run in a transaction that is rolled back (fast, most tests);
- ``committed`` tests write for real, because another process must see the rows (the ASGI
  server, the Celery worker, the browser). They create their own uniquely named data.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client as HttpClient
from django_tenants.utils import schema_context, tenant_context

from accounts.models import Role, User
from config.process_cache import ProcessCache
from tenants.clients import client_create, ensure_platform
from tenants.models import Client

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery"


@dataclass
class Tenants:
    alpha: Client
    beta: Client


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker, django_db_modify_db_settings):
    """The test database, always: pytest-django makes one only when a collected test asks for
    ``db``, and a run of ``committed`` tests alone would otherwise write into the real database."""
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        config = setup_databases(
            verbosity=request.config.option.verbose, interactive=False, aliases={"default"}
        )
    yield
    with django_db_blocker.unblock():
        # A server process of this session may still hold a connection: end it, then drop.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        teardown_databases(config, verbosity=request.config.option.verbose)


@pytest.fixture(scope="session")
def tenants(django_db_setup, django_db_blocker) -> Tenants:
    """Two client companies, committed once for the whole session: any test can use both."""
    assert connection.settings_dict["NAME"].startswith("test_"), "tests must never touch the real database"
    with django_db_blocker.unblock():
        ensure_platform()
        found = {c.slug: c for c in Client.objects.filter(slug__in=["alpha", "beta"])}
        alpha = found.get("alpha") or client_create(
            slug="alpha", name="Alpha Ltd", status=Client.Status.ACTIVE
        )
        beta = found.get("beta") or client_create(slug="beta", name="Beta GmbH", status=Client.Status.ACTIVE)
    return Tenants(alpha=alpha, beta=beta)


@pytest.fixture(autouse=True)
def _public_schema_around_each_test() -> Iterator[None]:
    """Every test starts and ends in the public schema, as a request does, with empty process
    caches (a test's rollback undoes rows they may have kept)."""
    ProcessCache.invalidate_all()
    yield
    connection.set_schema_to_public()
    ProcessCache.invalidate_all()


@pytest.fixture
def committed(tenants: Tenants, django_db_blocker) -> Iterator[None]:
    """Database access that commits, for tests where another process reads what was written."""
    with django_db_blocker.unblock():
        yield
        connection.set_schema_to_public()


def make_user(tenant: Client | None, *, role: str, username: str | None = None, **fields: object) -> User:
    """A user in the tenant's schema (or the public one for platform staff)."""
    username = username or f"{role}-{uuid.uuid4().hex[:8]}"

    def create() -> User:
        user = User(username=username, role=role, email=f"{username}@example.com", **fields)
        user.set_password(PASSWORD)
        user.save()
        return user

    # Platform staff live in public, whatever schema the connection was left in (a request to a
    # company's host in the same test leaves it there).
    with tenant_context(tenant) if tenant is not None else schema_context("public"):
        return create()


def http(tenant: Client | None) -> HttpClient:
    """A test client that talks to the tenant's host (the platform host for None)."""
    host = tenant.host if tenant is not None else settings.PLATFORM_HOST
    return HttpClient(HTTP_HOST=host)


def logged_in(tenant: Client | None, user: User) -> HttpClient:
    client = http(tenant)
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return client


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listened on {port} within {timeout} s")


def run_async(coroutine: object) -> object:
    """``asyncio.run`` in a thread of its own: Playwright's sync API keeps a loop running here."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@dataclass(frozen=True)
class Ports:
    web: int  # the ASGI server
    twilio_rest: int  # where the simulator plays Twilio's REST API


@functools.cache
def ports() -> Ports:
    """Chosen once per test process, so every server it starts agrees on them."""
    return Ports(web=_free_port(), twilio_rest=_free_port())


def child_env() -> dict[str, str]:
    """Environment for a server process that must use this test process's database and Redis.

    Its Twilio REST calls go to the simulator's port, and it knows the URL Twilio signs.
    """
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings_test",
        DATABASE_NAME=connection.settings_dict["NAME"],
        PYTHONPATH=str(ROOT),
        TWILIO_API_BASE_URL=f"http://127.0.0.1:{ports().twilio_rest}",
        TWILIO_WEBHOOK_BASE_URL=f"http://{settings.PLATFORM_HOST}:{ports().web}",
        DB_POOL_SIZE="5",  # the servers run as in production: pooled connections
    )
    return env


@dataclass
class Server:
    port: int
    process: subprocess.Popen

    def url(self, tenant: Client | None = None, path: str = "/") -> str:
        host = tenant.host if tenant is not None else settings.PLATFORM_HOST
        return f"http://{host}:{self.port}{path}"


UVICORN = [
    "-m",
    "uvicorn",
    "config.asgi:application",
    "--host",
    "127.0.0.1",
    "--no-access-log",
    "--lifespan",
    "off",
]


@contextlib.contextmanager
def serving(command: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[Server]:
    """A server process (``command``, listening on ``port``) on the test database, always stopped."""
    process = subprocess.Popen(command, env=env or child_env(), cwd=ROOT)
    try:
        _wait_port(port, process)
        yield Server(port=port, process=process)
    finally:
        process.terminate()
        process.wait(timeout=15)


def _uvicorn(port: int) -> contextlib.AbstractContextManager[Server]:
    """The real ASGI application under uvicorn on ``port``, on the test database."""
    return serving([sys.executable, *UVICORN, "--port", str(port)], port)


@pytest.fixture(scope="session")
def asgi_server(tenants: Tenants) -> Iterator[Server]:
    """The real ASGI application under uvicorn, on the test database."""
    with _uvicorn(ports().web) as server:
        yield server


def _webhooks_process(port: int) -> contextlib.AbstractContextManager[Server]:
    """A process for Twilio's webhooks only, as ``manage.py run`` starts it (granian's WSGI server,
    ``config.supervision.wsgi_command``), on the test database."""
    from config.supervision import wsgi_command

    return serving(wsgi_command(sys.executable, "127.0.0.1", port), port)


@pytest.fixture(scope="session")
def voice_server(asgi_server: Server) -> Iterator[Server]:
    """The voice process (``manage.py run --voice-port``), for the webhooks a caller waits on;
    Twilio's URLs name ``asgi_server``'s address, as behind a routing proxy."""
    with _webhooks_process(_free_port()) as server:
        yield server


@pytest.fixture(scope="session")
def hooks_server(asgi_server: Server) -> Iterator[Server]:
    """The hooks process (``manage.py run --hooks-port``), for Twilio's callbacks nobody waits on."""
    with _webhooks_process(_free_port()) as server:
        yield server


@pytest.fixture(scope="session")
def celery_worker(tenants: Tenants) -> Iterator[subprocess.Popen]:
    """A real Celery worker process on this test process's database and broker."""
    import redis

    from config.celery import app, live_workers

    app.control.purge()  # tasks left in this process's broker database by an earlier session
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-l", "WARNING",
         "-Q", "call,background", "--without-mingle", "--without-gossip",
         "-n", f"test-{uuid.uuid4().hex[:6]}@%h"],
        env=child_env(), cwd=ROOT,
    )  # fmt: skip
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    deadline = time.monotonic() + 60
    while live_workers(client) == 0:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the Celery worker did not start")
        time.sleep(0.2)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


PRISM_DIR = ROOT / "var" / "node"
PRISM_PACKAGE = "@stoplight/prism-cli@5.14.2"
TWILIO_SPEC = ROOT / "tests" / "contracts" / "twilio" / "twilio_api_v2010.prism-encoding.trimmed.json"


def _require_tool(name: str, hint: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{name} is required in CI ({hint})")
    pytest.skip(f"no {name} on this machine ({hint})")


@pytest.fixture(scope="session")
def twilio_api(tmp_path_factory) -> Iterator[str]:
    """Prism serving Twilio's own OpenAPI spec: it answers like Twilio and validates each request.

    Installed from the npm registry into var/node on first use (one process at a time).
    """
    import fcntl

    if shutil.which("npm") is None:
        _require_tool("npm", "Node.js and npm, to run Prism")
    prism = PRISM_DIR / "node_modules" / ".bin" / "prism"
    PRISM_DIR.mkdir(parents=True, exist_ok=True)
    with open(PRISM_DIR / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not prism.exists():
            npm = ["npm", "install", "--prefix", str(PRISM_DIR), "--no-audit", "--no-fund"]
            subprocess.run([*npm, PRISM_PACKAGE], check=True, capture_output=True, timeout=600)
    port = _free_port()
    log = open(tmp_path_factory.mktemp("prism") / "prism.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [str(prism), "mock", "-h", "127.0.0.1", "-p", str(port), str(TWILIO_SPEC)], stdout=log, stderr=log
    )
    try:
        _wait_port(port, process, timeout=120)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


@pytest.fixture
def twilio_mock(twilio_api: str) -> Iterator[str]:
    """Point the platform's ``twilio`` client at Prism for one test."""
    from django.test import override_settings

    from telephony import gateway

    gateway.client.cache_clear()
    with override_settings(TWILIO_API_BASE_URL=twilio_api):
        yield twilio_api
    gateway.client.cache_clear()


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Chromium (Debian's) driven by Playwright; CI must have it, a laptop may not."""
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI (apt-get install chromium)")
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def platform_admin(db, tenants: Tenants) -> User:
    return make_user(None, role=Role.PLATFORM_ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def presence() -> Iterator[object]:
    """The consoles' presence keys in Redis, empty before and after the test (its client)."""
    from telephony import console_presence

    keys = (console_presence.KEY, console_presence.SINCE_KEY, console_presence.UNTIL_KEY)
    client = console_presence.client()
    client.delete(*keys)
    yield client
    client.delete(*keys)


KOMBU_RECONNECT_BUG = "'NoneType' object has no attribute 'client'"


@dataclass
class BrokenPublish:
    """kombu's publish raising as it did during a Redis restart (docs/reliability.md), ``failures``
    times (``None``: every time); then the real publish, to this test process's broker."""

    failures: int | None
    error: Exception = field(default_factory=lambda: AttributeError(KOMBU_RECONNECT_BUG))
    tries: int = 0
    sent: list[str] = field(default_factory=list)


@pytest.fixture
def broken_publish() -> Iterator[BrokenPublish]:
    """Sending a Celery task fails in kombu's ``Producer.publish`` (set ``failures``; every send by
    default), with no pause between tries. What did reach the broker is purged afterwards: no
    worker of another test takes it."""
    from kombu import Producer

    from config.celery import app

    broken = BrokenPublish(failures=None)
    publish = Producer.publish

    def failing(self, body, *args, **kwargs):
        broken.tries += 1
        if broken.failures is None or broken.tries <= broken.failures:
            raise broken.error
        result = publish(self, body, *args, **kwargs)
        broken.sent.append(kwargs.get("headers", {}).get("task", "?"))
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Producer, "publish", failing)
        patch.setattr("config.celery.SEND_PAUSES", (0.0, 0.0))
        yield broken
    if broken.sent:
        app.control.purge()


def browser_log_in(page, server: Server, user: User, tenant: Client | None = None) -> None:
    """In a real browser: ``user`` logs in on the tenant's host (the platform's by default)."""
    page.goto(server.url(tenant, "/login/"))
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def open_console_available(page, server: Server, user: User) -> None:
    """In a real browser: the operator logs in, opens the console, and sets themselves available
    (not waited for: a worker may reserve them for an offer at once)."""
    browser_log_in(page, server, user)
    page.goto(server.url(None, "/console/"))
    page.locator("#link", has_text="connected").wait_for()
    page.get_by_label("Change state").select_option("available")
    page.get_by_role("button", name="Set state").click()


@pytest.fixture
def garbage():
    """What the next garbage collections find (objects only a collection frees: in reference
    cycles, or held by one), kept for the test to look at; the collector as it was after."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    found: list[object] = []

    def collect() -> list[object]:
        gc.collect()
        found.extend(gc.garbage)
        gc.garbage.clear()
        return found

    yield collect
    gc.set_debug(0)
    gc.garbage.clear()
