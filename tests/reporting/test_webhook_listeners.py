"""Who listens to what, kept by each process until a company's endpoints change (issue 23): the end
of every call asks whether anyone listens to ``call.completed``, and most companies listen to
nothing. A save or delete of an endpoint bumps its company's version in Redis as it commits."""

from __future__ import annotations

import redis
from django_tenants.utils import tenant_context

from config import change_versions
from reporting import webhooks
from reporting.webhook_models import WebhookEndpoint, WebhookEvent


def emit(sid: str) -> WebhookEvent | None:
    return webhooks.emit(type="call.completed", data={"call_sid": sid}, dedupe_key=f"call.completed:{sid}")


def endpoint_made_elsewhere(events: list[str]) -> WebhookEndpoint:
    """An endpoint another process created: its row, which sends this process no signal."""
    rows = [WebhookEndpoint(url="http://127.0.0.1:9/x", events=events, secret="whsec_x")]
    return WebhookEndpoint.objects.bulk_create(rows)[0]


def test_an_event_nobody_listens_to_reads_nothing_until_the_endpoints_change_anywhere(
    db, tenants, django_assert_num_queries
):
    with tenant_context(tenants.alpha):
        assert emit("CA1") is None  # read once: nobody listens
        with django_assert_num_queries(0):
            assert emit("CA2") is None
        endpoint_made_elsewhere(["call.completed"])
        with django_assert_num_queries(0):
            assert emit("CA3") is None  # not bumped yet: kept
        webhooks.ENDPOINT_VERSIONS.bump(tenants.alpha.schema_name)  # its commit
        assert emit("CA4") is not None  # the next event reads the endpoints again
    with tenant_context(tenants.beta):
        assert emit("CA5") is None  # another company's endpoints are not this one's


def test_an_endpoint_saved_here_is_heard_at_once_and_bumps_its_company_as_it_commits(
    db, tenants, django_capture_on_commit_callbacks
):
    alpha, beta = tenants.alpha.schema_name, tenants.beta.schema_name
    with tenant_context(tenants.beta):
        emit("CA0")
    with tenant_context(tenants.alpha):
        assert emit("CA1") is None
        before = [webhooks.ENDPOINT_VERSIONS.current(s) for s in (alpha, beta)]
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            endpoint, _ = webhooks.endpoint_create(url="http://127.0.0.1:9/a", events=["call.completed"])
        assert emit("CA2") is not None  # this process drops its copy at the save
        assert webhooks.ENDPOINT_VERSIONS.current(alpha) == before[0]  # not yet
        for callback in callbacks:
            callback()
        assert webhooks.ENDPOINT_VERSIONS.current(alpha) != before[0]
        assert webhooks.ENDPOINT_VERSIONS.current(beta) == before[1]
        webhooks.endpoint_update(
            endpoint=endpoint, url=endpoint.url, events=["call.completed"], description="", active=False
        )
        assert emit("CA3") is None  # turned off: heard at once too
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.endpoint_delete(endpoint=endpoint)
        assert webhooks.ENDPOINT_VERSIONS.current(alpha) != before[0]


def test_with_redis_away_the_endpoints_are_read_at_every_event(db, tenants, monkeypatch):
    away = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    monkeypatch.setattr(change_versions, "_redis", lambda: away)
    with tenant_context(tenants.alpha):
        assert emit("CA1") is None
        endpoint_made_elsewhere(["call.completed"])
        assert emit("CA2") is not None  # read again, never kept while the version is unknown
