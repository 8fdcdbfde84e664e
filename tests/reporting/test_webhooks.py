"""Outgoing webhooks: signed POSTs to a real local receiver, retries, isolation, the portal pages."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import socket
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Role
from reporting import webhook_delivery, webhooks
from reporting.webhook_models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from telephony.calls.models import Call
from telephony.calls.records import set_outcome
from tenants.models import CompanyWork
from tests.conftest import logged_in, make_user
from tests.factories import CallFactory

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


class Receiver:
    """A real HTTP server in a thread: records each POST and answers the scripted status codes."""

    def __init__(self, statuses: tuple[int, ...] = (200,), headers: dict[str, str] | None = None) -> None:
        self.requests: list[tuple[dict[str, str], bytes, str]] = []
        self.statuses = list(statuses)
        self.extra_headers = headers or {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(({k: v for k, v in self.headers.items()}, body, self.path))
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                for name, value in receiver.extra_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/cc"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify(secret: str, headers: dict[str, str], body: bytes, *, tolerance: int = 300) -> None:
    """What a receiver does (written here from the documented scheme, not with our code)."""
    timestamp = int(headers["X-CC-Timestamp"])
    assert abs(time.time() - timestamp) < tolerance or timestamp == int(NOW.timestamp())
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    signatures = [part.partition("=") for part in headers["X-CC-Signature"].split(",")]
    assert any(scheme == "v1" and hmac.compare_digest(given, expected) for scheme, _, given in signatures)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/gone"


@pytest.fixture
def alpha(db, tenants):
    with tenant_context(tenants.alpha):
        yield tenants.alpha


def emit_call(sid: str = "CA1") -> WebhookEvent | None:
    return webhooks.emit(
        type="call.completed",
        data={"call_sid": sid, "outcome": "handled"},
        dedupe_key=f"call.completed:{sid}",
        now=NOW,
    )


def test_an_event_reaches_a_subscribed_endpoint_signed_and_is_recorded(alpha):
    with Receiver() as receiver:
        endpoint, secret = webhooks.endpoint_create(url=receiver.url, events=["call.completed"])
        webhooks.endpoint_create(url=receiver.url, events=["invoice.issued"])  # not subscribed
        off, _ = webhooks.endpoint_create(url=receiver.url, events=["call.completed"])
        WebhookEndpoint.objects.filter(pk=off.pk).update(active=False)
        event = emit_call()
        delivery = WebhookDelivery.objects.get(event=event)  # one delivery: the active, subscribed one
        assert delivery.endpoint == endpoint
        done = webhook_delivery.deliver(delivery_id=delivery.pk, now=NOW)
        assert len(receiver.requests) == 1
        headers, body, path = receiver.requests[0]
    verify(secret, headers, body)
    assert path == "/hooks/cc"
    assert headers["X-CC-Event"] == "call.completed"
    assert headers["X-CC-Delivery"] == delivery.public_id
    assert headers["X-CC-Timestamp"] == str(int(NOW.timestamp()))
    assert headers["Content-Type"] == "application/json"
    document = json.loads(body)
    assert document == {
        "id": event.public_id,
        "type": "call.completed",
        "created": "2026-03-02T10:00:00Z",
        "data": {"call_sid": "CA1", "outcome": "handled"},
    }
    assert done.state == "delivered" and done.attempts == 1 and done.last_status_code == 200
    assert done.next_attempt_at is None and done.finished_at == NOW
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert (attempt.number, attempt.status_code, attempt.error) == (1, 200, "")


def test_an_events_data_is_read_only_when_someone_listens(alpha):
    reads: list[str] = []

    def data(sid: str) -> dict[str, str] | None:
        reads.append(sid)
        return None if sid == "CA3" else {"call_sid": sid}

    def emit(sid: str) -> WebhookEvent | None:
        return webhooks.emit(
            type="call.completed", data=lambda: data(sid), dedupe_key=f"call.completed:{sid}"
        )

    assert emit("CA1") is None and reads == []  # nobody listens: the call is not even read
    with Receiver() as receiver:
        webhooks.endpoint_create(url=receiver.url, events=["call.completed"])
        assert emit("CA2").data == {"call_sid": "CA2"} and reads == ["CA2"]
        assert emit("CA3") is None and reads == ["CA2", "CA3"]  # nothing to say: nothing emitted
    assert list(WebhookEvent.objects.values_list("dedupe_key", flat=True)) == ["call.completed:CA2"]


def test_a_wrong_secret_does_not_verify(alpha):
    with Receiver() as receiver:
        webhooks.endpoint_create(url=receiver.url, events=["call.completed"])
        webhook_delivery.deliver(delivery_id=WebhookDelivery.objects.get(event=emit_call()).pk, now=NOW)
        headers, body, _ = receiver.requests[0]
    with pytest.raises(AssertionError):
        verify("whsec_not-the-secret", headers, body)


def test_a_500_is_retried_after_a_backoff_and_then_delivered(alpha):
    with Receiver(statuses=(500, 200)) as receiver:
        _, secret = webhooks.endpoint_create(url=receiver.url, events=["call.completed"])
        delivery = WebhookDelivery.objects.get(event=emit_call())
        first = webhook_delivery.deliver(delivery_id=delivery.pk, now=NOW)
        assert (first.state, first.attempts, first.last_status_code) == ("pending", 1, 500)
        assert first.next_attempt_at == NOW + dt.timedelta(seconds=30)
        assert (
            webhook_delivery.deliver(delivery_id=delivery.pk, now=NOW + dt.timedelta(seconds=10)) is None
        )  # not due
        second = webhook_delivery.deliver(delivery_id=delivery.pk, now=NOW + dt.timedelta(seconds=31))
        assert len(receiver.requests) == 2
    assert (second.state, second.attempts, second.last_status_code, second.last_error) == (
        "delivered",
        2,
        200,
        "",
    )
    (h1, b1, _), (h2, b2, _) = receiver.requests
    assert b1 == b2 and h1["X-CC-Delivery"] == h2["X-CC-Delivery"]  # the receiver can dedupe on it
    verify(secret, h2, b2, tolerance=10**9)
    assert list(WebhookAttempt.objects.filter(delivery=delivery).values_list("number", "status_code")) == [
        (1, 500),
        (2, 200),
    ]


def test_after_a_rotation_the_old_secret_also_signs_for_a_day(alpha):
    with Receiver() as receiver:
        endpoint, old = webhooks.endpoint_create(url=receiver.url, events=["call.completed"])
        new = webhooks.endpoint_rotate_secret(endpoint=endpoint)
        endpoint.refresh_from_db()
        webhook_delivery.deliver(
            delivery_id=WebhookDelivery.objects.get(event=emit_call("CA1")).pk, now=timezone.now()
        )
        a_day_later = endpoint.previous_secret_until + dt.timedelta(seconds=1)
        delivery = WebhookDelivery.objects.get(event=emit_call("CA2"))
        webhook_delivery.deliver(delivery_id=delivery.pk, now=a_day_later)
        (during, body1, _), (after, body2, _) = receiver.requests
    assert new != old and during["X-CC-Signature"].count("v1=") == 2
    verify(new, during, body1)
    verify(old, during, body1)
    assert after["X-CC-Signature"].count("v1=") == 1
    verify(new, after, body2, tolerance=10**9)
    with pytest.raises(AssertionError):
        verify(old, after, body2, tolerance=10**9)


def test_a_leaked_secret_stops_signing_at_once(alpha):
    with Receiver() as receiver:
        endpoint, old = webhooks.endpoint_create(url=receiver.url, events=["call.completed"])
        new = webhooks.endpoint_rotate_secret(endpoint=endpoint, keep_old=False)
        webhook_delivery.deliver(
            delivery_id=WebhookDelivery.objects.get(event=emit_call()).pk, now=timezone.now()
        )
        headers, body, _ = receiver.requests[0]
    verify(new, headers, body)
    with pytest.raises(AssertionError):
        verify(old, headers, body)


def test_a_4xx_other_than_429_is_not_retried(alpha):
    with Receiver(statuses=(410,)) as receiver:
        webhooks.endpoint_create(url=receiver.url, events=["call.completed"])
        delivery = webhook_delivery.deliver(
            delivery_id=WebhookDelivery.objects.get(event=emit_call()).pk, now=NOW
        )
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("failed", 1, "HTTP 410")
    assert delivery.next_attempt_at is None
    assert webhook_delivery.deliver(delivery_id=delivery.pk, now=NOW + dt.timedelta(days=1)) is None


def test_a_disabled_endpoint_or_an_unsendable_url_fails_at_once(alpha):
    with Receiver() as receiver:
        endpoint, _ = webhooks.endpoint_create(url=receiver.url, events=["call.completed"])
        delivery = WebhookDelivery.objects.get(event=emit_call("CA1"))
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)  # after the event
        disabled = webhook_delivery.deliver(delivery_id=delivery.pk, now=NOW)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=True, url=receiver.url + "/a b")
        broken = webhook_delivery.deliver(
            delivery_id=WebhookDelivery.objects.get(event=emit_call("CA2")).pk, now=NOW
        )
        assert not receiver.requests
    assert (disabled.state, disabled.last_error) == ("failed", "The endpoint is disabled.")
    assert broken.state == "failed" and broken.last_error.startswith("InvalidURL")


def test_a_429_waits_at_least_its_retry_after(alpha):
    with Receiver(statuses=(429,), headers={"Retry-After": "600"}) as receiver:
        webhooks.endpoint_create(url=receiver.url, events=["call.completed"])
        delivery = webhook_delivery.deliver(
            delivery_id=WebhookDelivery.objects.get(event=emit_call()).pk, now=NOW
        )
    assert delivery.state == "pending" and delivery.next_attempt_at == NOW + dt.timedelta(seconds=600)


def test_network_errors_are_retried_with_exponential_backoff_up_to_eight_attempts(alpha):
    webhooks.endpoint_create(url=closed_port_url(), events=["call.completed"])
    delivery = WebhookDelivery.objects.get(event=emit_call())
    at, waits = NOW, []
    for _ in range(8):
        delivery = webhook_delivery.deliver(delivery_id=delivery.pk, now=at)
        if delivery.next_attempt_at:
            waits.append(int((delivery.next_attempt_at - at).total_seconds()))
            at = delivery.next_attempt_at
    assert waits == [30, 60, 120, 240, 480, 960, 1920]
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("failed", 8, None)
    assert "ConnectionRefusedError" in delivery.last_error
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 8


def test_the_same_event_twice_makes_one_delivery_per_endpoint(alpha):
    webhooks.endpoint_create(url="http://127.0.0.1:9/a", events=["call.completed"])
    webhooks.endpoint_create(url="http://127.0.0.1:9/b", events=["call.completed", "invoice.issued"])
    first, again = emit_call("CA7"), emit_call("CA7")
    assert first == again
    assert WebhookEvent.objects.filter(dedupe_key="call.completed:CA7").count() == 1
    assert WebhookDelivery.objects.filter(event=first).count() == 2


def test_nothing_is_written_when_nobody_listens(alpha):
    assert emit_call("CA8") is None
    assert not WebhookEvent.objects.exists()


def test_a_delivery_is_not_tried_twice_at_once(alpha):
    webhooks.endpoint_create(url=closed_port_url(), events=["call.completed"])
    delivery = WebhookDelivery.objects.get(event=emit_call())
    WebhookDelivery.objects.filter(pk=delivery.pk).update(leased_until=NOW + dt.timedelta(seconds=30))
    assert webhook_delivery.deliver(delivery_id=delivery.pk, now=NOW) is None  # another worker holds it
    assert not WebhookAttempt.objects.exists()


def test_urls_must_be_https_in_production(alpha):
    assert webhooks.check_url("http://127.0.0.1:8000/x") == "http://127.0.0.1:8000/x"  # test settings
    with override_settings(DJANGO_ENV="production", WEBHOOK_ALLOWED_PRIVATE_HOSTS=[]):
        for bad in [
            "http://example.com/hook",
            "https://127.0.0.1/hook",
            "https://10.1.2.3/x",
            "ftp://example.com",
        ]:
            with pytest.raises(ValidationError):
                webhooks.check_url(bad)
        assert webhooks.check_url("https://93.184.215.14/hook")
    with pytest.raises(ValidationError):
        webhooks.check_url("https://user:pw@example.com/x")


def test_a_call_reaching_its_outcome_emits_call_completed_after_commit(
    alpha, tenants, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        endpoint, secret = webhooks.endpoint_create(url=receiver.url, events=["call.completed"])
        call = CallFactory(
            started_at=NOW,
            queued_at=NOW,
            answered_at=NOW,
            wait_seconds=4,
            talk_seconds=70,
            queue_name="Sales",
        )
        with django_capture_on_commit_callbacks() as callbacks:
            assert set_outcome(call, Call.Outcome.HANDLED, at=NOW)
            assert not set_outcome(call, Call.Outcome.ABANDONED, at=NOW)  # one outcome, one event
        assert not WebhookEvent.objects.exists()  # nothing before the commit
        for callback in callbacks:
            callback()
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        assert webhook_delivery.deliver(delivery_id=delivery.pk).state == "delivered"
        headers, body, _ = receiver.requests[0]
    verify(secret, headers, body)
    data = json.loads(body)["data"]
    assert data["call_sid"] == call.call_sid and data["outcome"] == "handled"
    assert (data["wait_seconds"], data["talk_seconds"], data["queue"]) == (4, 70, "Sales")
    assert WebhookEvent.objects.get().type == "call.completed"


def test_a_failing_call_completed_receiver_is_logged_and_the_outcome_stays(
    alpha, tenants, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    webhooks.endpoint_create(url="http://127.0.0.1:9/x", events=["call.completed"])
    call = CallFactory(started_at=NOW, queued_at=NOW, answered_at=NOW)

    def broken(call_id: int) -> None:
        raise RuntimeError("no data today")

    monkeypatch.setattr(webhooks, "call_completed_data", broken)
    with django_capture_on_commit_callbacks(execute=True):
        assert set_outcome(call, Call.Outcome.HANDLED, at=NOW)
    assert "call.completed of " + call.call_sid in caplog.text and "no data today" in caplog.text
    assert Call.objects.get(pk=call.pk).outcome == Call.Outcome.HANDLED
    assert not WebhookEvent.objects.exists()


def test_issuing_an_invoice_emits_invoice_issued(alpha, tenants, django_capture_on_commit_callbacks):
    from reporting import billing
    from tests.reporting.factories import contract_in_force, tariff

    contract_in_force(tenants.alpha, tariffs=[tariff("inbound", "Inbound", fee="100.00")], tax_percent="20")
    endpoint, _ = webhooks.endpoint_create(url="http://127.0.0.1:9/x", events=["invoice.issued"])
    invoice = billing.invoice_build(month=dt.date(2026, 3, 1))
    with django_capture_on_commit_callbacks() as callbacks:
        billing.invoice_issue(invoice=invoice)
    for callback in callbacks:
        callback()
    event = WebhookDelivery.objects.select_related("event").get(endpoint=endpoint).event
    assert event.type == "invoice.issued"
    assert event.data["number"] == invoice.number
    assert Decimal(event.data["total"]) == Decimal("120.00") and event.data["currency"] == "EUR"
    assert (event.data["tax_percent"], event.data["taxes"]) == (
        "20.00",
        [{"percent": "20.00", "net": "100.00", "tax": "20.00", "reverse_charge": False, "client_vat_id": ""}],
    )


def test_a_tenants_events_never_reach_another_tenants_endpoint(
    db, tenants, django_capture_on_commit_callbacks
):
    with tenant_context(tenants.beta):
        beta_endpoint, _ = webhooks.endpoint_create(url="http://127.0.0.1:9/beta", events=["call.completed"])
    with tenant_context(tenants.alpha):
        alpha_endpoint, _ = webhooks.endpoint_create(
            url="http://127.0.0.1:9/alpha", events=["call.completed"]
        )
        call = CallFactory(started_at=NOW, queued_at=NOW, answered_at=NOW)
        with django_capture_on_commit_callbacks() as callbacks:
            set_outcome(call, Call.Outcome.HANDLED, at=NOW)
    for callback in callbacks:  # run from public, as after a request: each runs in its own schema
        callback()
    with tenant_context(tenants.alpha):
        assert WebhookDelivery.objects.filter(endpoint=alpha_endpoint).count() == 1
    with tenant_context(tenants.beta):
        assert not WebhookDelivery.objects.exists() and not WebhookEvent.objects.exists()
        assert WebhookEndpoint.objects.get().pk == beta_endpoint.pk


def test_the_sweeper_resends_overdue_deliveries_from_inside_each_schema(db, tenants, monkeypatch):
    from django.db import connection

    from reporting import tasks

    CompanyWork.objects.all().delete()  # other tests' (rolled back after)
    with tenant_context(tenants.alpha):
        webhooks.endpoint_create(url="http://127.0.0.1:9/a", events=["call.completed"])
        overdue = WebhookDelivery.objects.get(event=emit_call("CA-late"))  # due at NOW, long ago
        fresh = WebhookDelivery.objects.get(event=emit_call("CA-new"))
        retry_at = timezone.now() + dt.timedelta(minutes=2)  # its retry, not overdue at the sweep
        WebhookDelivery.objects.filter(pk=fresh.pk).update(next_attempt_at=retry_at)
        done = WebhookDelivery.objects.get(event=emit_call("CA-done"))
        WebhookDelivery.objects.filter(pk=done.pk).update(state="delivered", finished_at=NOW)
    sent = []
    monkeypatch.setattr(tasks.deliver_webhook, "delay", lambda pk: sent.append((connection.schema_name, pk)))
    # Deliveries just sent: their tasks may still run, the company is not visited yet (tenants.work).
    assert tasks.dispatch_webhook_retries() == 0
    later = timezone.now() + dt.timedelta(minutes=3)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert tasks.dispatch_webhook_retries() == 1
    assert sent == [(tenants.alpha.schema_name, overdue.pk)]
    work = CompanyWork.objects.filter(kind=CompanyWork.Kind.WEBHOOKS)
    # Still pending (its task may be lost again): the company is looked at by each sweep.
    assert list(work.values_list("tenant_id", "due_at")) == [(tenants.alpha.pk, later)]
    with tenant_context(tenants.alpha):
        WebhookDelivery.objects.filter(pk=overdue.pk).update(state="delivered", finished_at=NOW)
    assert tasks.dispatch_webhook_retries() == 0  # the fresh one is not overdue yet
    assert work.exists()  # but pending
    with tenant_context(tenants.alpha):
        WebhookDelivery.objects.update(state="delivered", finished_at=NOW)
    assert tasks.dispatch_webhook_retries() == 0
    assert not work.exists()  # nothing pending: the next sweeps skip the company


def test_webhook_tasks_refuse_to_run_in_public(db, tenants):
    from reporting.tasks import deliver_webhook

    with pytest.raises(RuntimeError):
        deliver_webhook(1)


# Portal pages


@pytest.fixture
def admin_client(alpha, tenants):
    return logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_ADMIN))


def test_an_admin_adds_an_endpoint_and_sees_its_secret_once(admin_client):
    response = admin_client.post(
        "/webhooks/", {"url": "http://127.0.0.1:9/hook", "events": ["call.completed", "invoice.issued"]}
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.startswith("whsec_") and endpoint.secret in response.content.decode()
    assert endpoint.events == ["call.completed", "invoice.issued"]
    listing = admin_client.get("/webhooks/").content.decode()
    assert "127.0.0.1:9/hook" in listing and endpoint.secret not in listing
    assert endpoint.secret not in admin_client.get(f"/webhooks/{endpoint.pk}/").content.decode()


def test_bad_endpoint_input_is_a_400_with_a_message_and_nothing_saved(admin_client):
    response = admin_client.post("/webhooks/", {"url": "ftp://example.com/x", "events": ["call.completed"]})
    assert response.status_code == 400 and "Enter an http:// or https:// URL." in response.content.decode()
    response = admin_client.post("/webhooks/", {"url": "http://127.0.0.1:9/x", "events": ["call.nope"]})
    assert response.status_code == 400
    response = admin_client.post("/webhooks/", {"url": "http://127.0.0.1:9/x"})
    assert response.status_code == 400
    assert not WebhookEndpoint.objects.exists()


def test_an_admin_edits_rotates_tests_and_deletes_an_endpoint(admin_client):
    endpoint, old_secret = webhooks.endpoint_create(url="http://127.0.0.1:9/a", events=["call.completed"])
    response = admin_client.post(
        f"/webhooks/{endpoint.pk}/",
        {"url": "http://127.0.0.1:9/b", "events": ["invoice.issued"], "active": ""},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.active) == (
        "http://127.0.0.1:9/b",
        ["invoice.issued"],
        False,
    )
    assert admin_client.get(f"/webhooks/{endpoint.pk}/rotate/").status_code == 405  # POST only
    response = admin_client.post(f"/webhooks/{endpoint.pk}/rotate/")
    endpoint.refresh_from_db()
    assert endpoint.secret != old_secret and endpoint.secret in response.content.decode()
    assert admin_client.post(f"/webhooks/{endpoint.pk}/test/").status_code == 302
    delivery = WebhookDelivery.objects.select_related("event").get(endpoint=endpoint)
    assert delivery.event.type == "webhook.test"  # sent even to a disabled endpoint: that is its point
    page = admin_client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert "webhook.test" in page and "Pending" in page
    assert admin_client.get(f"/webhooks/deliveries/{delivery.uid}/").status_code == 200
    assert admin_client.post(f"/webhooks/{endpoint.pk}/delete/").status_code == 302
    assert not WebhookEndpoint.objects.exists()


def test_an_admin_sends_a_failed_delivery_again(admin_client):
    with Receiver(statuses=(410, 200)) as receiver:
        webhooks.endpoint_create(url=receiver.url, events=["call.completed"])
        delivery = WebhookDelivery.objects.get(event=emit_call())
        assert webhook_delivery.deliver(delivery_id=delivery.pk, now=NOW).state == "failed"
        assert "Send again" in admin_client.get(f"/webhooks/deliveries/{delivery.uid}/").content.decode()
        response = admin_client.post(f"/webhooks/deliveries/{delivery.uid}/retry/", follow=True)
        assert "Delivery queued again." in response.content.decode()
        delivery.refresh_from_db()
        assert delivery.state == "pending" and delivery.finished_at is None
        again = webhook_delivery.deliver(delivery_id=delivery.pk)
        assert (again.state, again.attempts) == ("delivered", 2) and len(receiver.requests) == 2
    refused = admin_client.post(f"/webhooks/deliveries/{delivery.uid}/retry/", follow=True)
    assert "Only a failed delivery can be sent again." in refused.content.decode()
    delivery.refresh_from_db()
    assert delivery.state == "delivered"


@pytest.mark.parametrize("role", [Role.CLIENT_VIEWER, Role.CLIENT_EDITOR])
def test_only_admins_manage_webhooks(alpha, tenants, role):
    endpoint, _ = webhooks.endpoint_create(url="http://127.0.0.1:9/a", events=["call.completed"])
    delivery = webhooks.send_test(endpoint=endpoint)
    client = logged_in(tenants.alpha, make_user(tenants.alpha, role=role))
    assert client.get("/webhooks/").status_code == 403
    assert (
        client.post("/webhooks/", {"url": "http://127.0.0.1:9/x", "events": ["call.completed"]}).status_code
        == 403
    )
    for action in ["", "rotate/", "test/", "delete/"]:
        assert client.post(f"/webhooks/{endpoint.pk}/{action}").status_code == 403
    assert client.get(f"/webhooks/deliveries/{delivery.uid}/").status_code == 403
    assert client.post(f"/webhooks/deliveries/{delivery.uid}/retry/").status_code == 403
    assert WebhookEndpoint.objects.count() == 1 and WebhookDelivery.objects.count() == 1


def test_webhook_pages_need_a_login(alpha, tenants):
    from tests.conftest import http

    assert http(tenants.alpha).get("/webhooks/").status_code == 302


def test_another_tenants_admin_cannot_see_or_touch_alphas_endpoints(alpha, tenants):
    endpoint, secret = webhooks.endpoint_create(
        url="http://127.0.0.1:9/alpha-only", events=["call.completed"]
    )
    delivery = webhooks.send_test(endpoint=endpoint)
    beta_admin = logged_in(tenants.beta, make_user(tenants.beta, role=Role.CLIENT_ADMIN))
    assert "alpha-only" not in beta_admin.get("/webhooks/").content.decode()
    for action in ["", "rotate/", "test/", "delete/"]:
        assert beta_admin.post(f"/webhooks/{endpoint.pk}/{action}").status_code == 404
    assert beta_admin.get(f"/webhooks/{endpoint.pk}/").status_code == 404
    assert beta_admin.get(f"/webhooks/deliveries/{delivery.uid}/").status_code == 404
    assert beta_admin.post(f"/webhooks/deliveries/{delivery.uid}/retry/").status_code == 404
    with tenant_context(tenants.alpha):
        assert WebhookEndpoint.objects.get().secret == secret
    alpha_admin = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_ADMIN))
    assert alpha_admin.get(f"/webhooks/{endpoint.pk}/").status_code == 200  # the same ids do work at home


# End to end: the real worker posts the event of a call that reached its outcome


def test_a_call_outcome_is_delivered_by_the_celery_worker(committed, celery_worker, tenants):
    with Receiver() as alpha_receiver, Receiver() as beta_receiver:
        with tenant_context(tenants.beta):
            beta_endpoint, _ = webhooks.endpoint_create(url=beta_receiver.url, events=["call.completed"])
        with tenant_context(tenants.alpha):
            endpoint, secret = webhooks.endpoint_create(url=alpha_receiver.url, events=["call.completed"])
            sid = f"CAe2e{timezone.now().timestamp():.0f}"
            call = Call.objects.create(
                call_sid=sid,
                direction="inbound",
                from_number="+15550100100",
                to_number="+15550199001",
                started_at=timezone.now(),
                queued_at=timezone.now(),
                answered_at=timezone.now(),
            )
        try:
            with tenant_context(tenants.alpha), transaction.atomic():
                set_outcome(call, Call.Outcome.HANDLED)
            deadline = time.monotonic() + 60  # a loaded machine (2 cores, several workers) is slow
            while not alpha_receiver.requests and time.monotonic() < deadline:
                time.sleep(0.2)
            with tenant_context(tenants.alpha):
                found = list(WebhookDelivery.objects.filter(endpoint=endpoint).values())
            assert alpha_receiver.requests, f"the worker delivered nothing within 60 s: {found}"
            headers, body, _ = alpha_receiver.requests[0]
            verify(secret, headers, body)
            assert json.loads(body)["data"]["call_sid"] == sid
            time.sleep(1)
            assert not beta_receiver.requests
            with tenant_context(tenants.alpha):
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
                    if delivery.state == "delivered":
                        break
                    time.sleep(0.2)
                assert (delivery.state, delivery.attempts) == ("delivered", 1)
        finally:
            with tenant_context(tenants.alpha):
                WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()
                WebhookEvent.objects.filter(dedupe_key=f"call.completed:{sid}").delete()
                Call.objects.filter(pk=call.pk).delete()
            with tenant_context(tenants.beta):
                WebhookEndpoint.objects.filter(pk=beta_endpoint.pk).delete()


@pytest.mark.browser
def test_an_admin_adds_an_endpoint_and_sends_a_test_event_in_a_browser(
    committed, tenants, asgi_server, celery_worker, page
):
    """The whole flow a client admin sees: the secret shown once verifies the test event we post."""
    import os

    from tests.conftest import PASSWORD

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop
    user = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    with Receiver() as receiver:
        try:
            page.goto(asgi_server.url(tenants.alpha, "/login/"))
            page.get_by_label("Username").fill(user.username)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.get_by_role("link", name="Webhooks").click()
            page.get_by_label("URL").fill(receiver.url)
            page.get_by_label("Call completed").check()
            page.get_by_role("button", name="Add endpoint").click()
            secret = page.locator("#new-secret").inner_text()
            assert secret.startswith("whsec_")
            page.get_by_role("link", name=receiver.url).click()
            assert secret not in page.content()
            page.get_by_role("button", name="Send test event").click()
            page.get_by_role("status").filter(has_text="Test event queued").wait_for()
            deadline = time.monotonic() + 30
            while not receiver.requests and time.monotonic() < deadline:
                time.sleep(0.2)
            assert receiver.requests, "the worker posted nothing within 30 s"
            headers, body, _ = receiver.requests[0]
            verify(secret, headers, body)
            assert headers["X-CC-Event"] == "webhook.test"
            for _ in range(50):  # the worker records the attempt just after the response
                page.reload()
                if page.locator("td", has_text="Delivered").count():
                    break
                time.sleep(0.2)
            page.get_by_role("cell", name="Delivered").wait_for()
            page.get_by_role("link", name="webhook.test").click()
            page.get_by_role("heading", name="Attempts").wait_for()
            assert page.locator("table tbody tr").first.inner_text().split("\t")[2] == "200"
        finally:
            with tenant_context(tenants.alpha):
                WebhookEndpoint.objects.filter(url=receiver.url).delete()
