"""Client webhooks never reach inside: IPv6 literals, DNS rebinding, names that do not resolve, and the
same rules outside production. Every connection here goes to the loopback range only.

The attacker's DNS server is played by a stand-in for ``socket.getaddrinfo`` that answers only for
its own name (the one outside party of these tests, as Twilio is for the telephony tests).
"""

from __future__ import annotations

import random
import socket
import threading

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django_tenants.utils import tenant_context

from accounts.models import Role
from reporting import outgoing_http, webhook_delivery, webhooks
from reporting.webhook_models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.conftest import logged_in, make_user
from tests.reporting.test_webhooks import NOW, Receiver, emit_call

NO_PRIVATE_HOSTS = override_settings(WEBHOOK_ALLOWED_PRIVATE_HOSTS=[])


class Listener:
    """A plain TCP listener on a loopback address: counts the connections made to it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.sock.close()


def listener_on_a_hex_looking_port() -> Listener:
    """A listener on a port of at most four decimal digits: read as hex, it is a valid IPv6 group
    (``[::ffff:7f00:1:5432]`` is 127.0.0.1 port 5432 to a client that splits at the last colon)."""
    for port in random.sample(range(2000, 9999), 200):
        try:
            return Listener(port=port)
        except OSError:
            continue
    raise RuntimeError("no free port below 10000")


@pytest.fixture
def alpha(db, tenants):
    with tenant_context(tenants.alpha):
        yield tenants.alpha


@pytest.fixture
def attacker_dns(monkeypatch):
    """``answers(name, [address, …])``: each lookup of ``name`` gets the next address (the last one
    for ever after); every other name is resolved as usual. Returns the list of lookups made."""
    real = socket.getaddrinfo
    plans: dict[str, list[str]] = {}
    lookups: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if isinstance(host, str) and host in plans:
            lookups.append(host)
            plan = plans[host]
            address = plan.pop(0) if len(plan) > 1 else plan[0]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (
                (address, int(port or 0), 0, 0) if family == socket.AF_INET6 else (address, int(port or 0))
            )
            return [(family, socket.SOCK_STREAM, 6, "", sockaddr)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def answers(name: str, addresses: list[str]) -> list[str]:
        plans[name] = list(addresses)
        return lookups

    return answers


def endpoint_saved_earlier(url: str) -> WebhookEndpoint:
    """An endpoint as an earlier version (or a change of DNS since) left it: not checked again here."""
    return WebhookEndpoint.objects.create(url=url, events=["call.completed"], secret="whsec_x")


def deliver_once() -> WebhookDelivery:
    delivery = WebhookDelivery.objects.get(event=emit_call())
    return webhook_delivery.deliver(delivery_id=delivery.pk, now=NOW)


def test_an_ipv6_literal_that_a_client_would_split_at_its_last_colon_never_reaches_the_address_inside(alpha):
    listener = listener_on_a_hex_looking_port()
    try:
        with override_settings(DJANGO_ENV="production"), NO_PRIVATE_HOSTS:
            # What the issue sent: both passed the guard as public.
            for url in ["https://[::ffff:a9fe:a9fe:80]/", f"https://[::ffff:7f00:1:{listener.port}]/hook"]:
                with pytest.raises(ValidationError, match="not reachable from the internet"):
                    webhooks.check_url(url)
            endpoint_saved_earlier(f"https://[::ffff:7f00:1:{listener.port}]/hook")
            delivery = deliver_once()
        assert listener.connections == 0  # 127.0.0.1:<port> was never connected to
        assert delivery.last_status_code is None and "not reachable from the internet" in delivery.last_error
    finally:
        listener.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/x",
        "http://10.1.2.3/x",
        "http://172.16.0.1/x",
        "http://192.168.1.1/x",
        "http://100.64.0.1/x",  # shared address space (CGNAT)
        "http://169.254.169.254/latest/meta-data/",  # metadata
        "http://168.63.129.16/",  # Azure's wire server: a public address, but the cloud's own
        "http://0.0.0.0:5432/",
        "http://[::1]/x",
        "http://[::]/x",
        "http://[::ffff:127.0.0.1]/x",  # IPv4-mapped
        "http://[::ffff:a9fe:a9fe]/x",
        "http://[64:ff9b::a9fe:a9fe]/x",  # NAT64 of 169.254.169.254
        "http://[64:ff9b::a00:1]/x",  # NAT64 of 10.0.0.1
        "http://[2002:7f00:1::]/x",  # 6to4 of 127.0.0.1
        "http://[fd00:ec2::254]/x",  # AWS metadata over IPv6 (ULA)
        "http://[fc00::1]/x",
        "http://[fe80::1]/x",
        "http://[ff02::1]/x",
        "http://[2001:db8::1]/x",  # documentation
        "http://[2001::1]/x",  # Teredo
        "http://[::ffff:7f00:1:5432]/x",
    ],
)
def test_an_address_inside_is_refused_at_creation_outside_production_too(alpha, url):
    with NO_PRIVATE_HOSTS, pytest.raises(ValidationError, match="not reachable from the internet"):
        webhooks.check_url(url)


def test_public_addresses_are_accepted_and_an_allowed_private_host_is_only_the_one_listed(alpha):
    with NO_PRIVATE_HOSTS:
        assert webhooks.check_url("https://93.184.215.14/hook")
        assert webhooks.check_url("https://[2606:4700:4700::1111]/hook")
        assert webhooks.check_url("https://[::ffff:5db8:d70e]/hook")  # mapped 93.184.215.14
    with override_settings(WEBHOOK_ALLOWED_PRIVATE_HOSTS=["127.0.0.1", "10.9.0.0/16"]):
        assert webhooks.check_url("http://127.0.0.1:8000/x")
        assert webhooks.check_url("http://10.9.8.7/x")
        for url in ["http://127.0.0.2/x", "http://10.8.0.1/x", "http://169.254.169.254/"]:
            with pytest.raises(ValidationError):
                webhooks.check_url(url)
    metadata_listed = override_settings(WEBHOOK_ALLOWED_PRIVATE_HOSTS=["169.254.0.0/16"])
    with metadata_listed, pytest.raises(ValidationError):  # metadata: never, even when listed
        webhooks.check_url("http://169.254.169.254/")
    assert outgoing_http.is_public(outgoing_http.literal_address("8.8.8.8"))
    assert not outgoing_http.is_public(outgoing_http.literal_address("::ffff:a9fe:a9fe:80"))


def test_a_name_that_does_not_resolve_is_refused_at_creation(alpha):
    with pytest.raises(ValidationError, match="does not resolve"):
        webhooks.check_url("https://hooks.no-such-host.invalid/cc")


def test_a_name_that_resolves_inside_is_refused_at_creation(alpha, attacker_dns):
    attacker_dns("hooks.inside.example", ["10.0.0.5"])
    with NO_PRIVATE_HOSTS, pytest.raises(ValidationError, match="not reachable from the internet"):
        webhooks.check_url("https://hooks.inside.example/cc")


def test_dns_rebinding_between_the_check_and_the_connection_never_reaches_inside(alpha, attacker_dns):
    """The first answer passes a check that trusts Python's ``is_global`` (reserved IPv6 space), the
    second points inside: a client that resolves twice connects to the second."""
    inside = Listener(host="127.0.0.2")
    try:
        lookups = attacker_dns("hooks.rebind.example", ["::ffff:a9fe:a9fe:80", "127.0.0.2"])
        with override_settings(DJANGO_ENV="production"), NO_PRIVATE_HOSTS:
            endpoint_saved_earlier(f"https://hooks.rebind.example:{inside.port}/cc")
            delivery = deliver_once()
        assert inside.connections == 0
        assert delivery.last_status_code is None and "not reachable" in delivery.last_error
        assert lookups == ["hooks.rebind.example"]  # resolved once for the attempt
    finally:
        inside.close()


def test_the_connection_goes_to_the_address_that_was_checked(alpha, attacker_dns):
    """Checked once, connected to that address: a second answer (inside) is never asked for."""
    inside = Listener(host="127.0.0.2")
    try:
        with Receiver() as receiver:
            port = receiver.server.server_address[1]
            inside.close()
            inside = Listener(host="127.0.0.2", port=port)
            lookups = attacker_dns("hooks.pinned.example", ["127.0.0.1", "127.0.0.2"])
            with override_settings(WEBHOOK_ALLOWED_PRIVATE_HOSTS=["127.0.0.1"]):
                endpoint_saved_earlier(f"http://hooks.pinned.example:{port}/cc")
                delivery = deliver_once()
            assert delivery.state == WebhookDelivery.State.DELIVERED
            headers, _, path = receiver.requests[0]
            assert headers["Host"] == f"hooks.pinned.example:{port}" and path == "/cc"
        assert inside.connections == 0
        assert lookups == ["hooks.pinned.example"]
    finally:
        inside.close()


def test_outside_production_an_internal_service_is_neither_posted_to_nor_shown_to_the_tenant(alpha, tenants):
    with Receiver() as internal:
        with NO_PRIVATE_HOSTS:
            endpoint_saved_earlier(internal.url)
            delivery = deliver_once()
        assert internal.requests == []
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None and attempt.response_excerpt == ""
    admin = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_ADMIN))
    page = admin.get(f"/webhooks/deliveries/{delivery.uid}/")
    assert page.status_code == 200 and "not reachable from the internet" in page.content.decode()


def test_an_ipv6_literal_url_is_delivered_to_that_address_with_a_bracketed_host(alpha):
    """IPv6 literals were split at their last colon; now they are sent as they are written."""
    import http.server

    requests: list[tuple[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            requests.append((self.headers["Host"], self.path))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    class V6Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6

    server = V6Server(("::1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        with override_settings(WEBHOOK_ALLOWED_PRIVATE_HOSTS=["::1"]):
            endpoint_saved_earlier(f"http://[::1]:{port}/v6?x=1")
            delivery = deliver_once()
    finally:
        server.shutdown()
        server.server_close()
    assert delivery.state == WebhookDelivery.State.DELIVERED
    assert requests == [(f"[::1]:{port}", "/v6?x=1")]


def test_tls_goes_to_the_checked_address_with_the_urls_host_name_for_sni_and_the_certificate(
    alpha, attacker_dns, tmp_path
):
    """A TLS server on the checked address sees the URL's name in SNI; its self-signed certificate is
    refused (the delivery fails with a certificate error, and nothing is sent)."""
    import ssl
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=hooks.tls.example", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(10)
    port = listener.getsockname()[1]

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            with context.wrap_socket(conn, server_side=True):
                pass
        except (OSError, ssl.SSLError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    attacker_dns("hooks.tls.example", ["127.0.0.1"])
    try:
        with override_settings(WEBHOOK_ALLOWED_PRIVATE_HOSTS=["127.0.0.1"]):
            endpoint_saved_earlier(f"https://hooks.tls.example:{port}/cc")
            delivery = deliver_once()
        thread.join(timeout=10)
    finally:
        listener.close()
    assert names == ["hooks.tls.example"]
    assert delivery.last_status_code is None and "CERTIFICATE_VERIFY_FAILED" in delivery.last_error
