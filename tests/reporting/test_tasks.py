"""Beat's dispatcher enqueues the build of each active client company with new calls inside its schema."""

import datetime as dt
import uuid

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from reporting import freshness, tasks
from reporting.models import Statistic
from tests.factories import CallFactory


def test_the_dispatcher_builds_only_the_companies_whose_calls_changed_from_inside_their_schema(
    db, tenants, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(freshness, "CHANGED_KEY", f"test:statistics:{uuid.uuid4().hex}")  # this test's own
    sent_from = []
    monkeypatch.setattr(
        tasks.build_recent_statistics, "delay", lambda: sent_from.append(connection.schema_name)
    )
    assert tasks.dispatch_statistics() == 0  # no company had a call: no build at all
    with tenant_context(tenants.alpha), django_capture_on_commit_callbacks(execute=True):
        CallFactory(outcome="abandoned")

    count = tasks.dispatch_statistics()

    assert sent_from == [tenants.alpha.schema_name] and count == 1  # beta had no call
    assert tasks.dispatch_statistics() == 0 and len(sent_from) == 1  # nothing new since


def test_a_tenant_build_refuses_to_run_in_public(db, tenants):
    with pytest.raises(RuntimeError):
        tasks.build_statistics("2026-03-02", "2026-03-02")


def test_build_on_demand_for_any_days(db, tenants):
    with tenant_context(tenants.alpha):
        CallFactory(
            started_at=dt.datetime(2025, 12, 31, 23, 59, tzinfo=dt.UTC),
            queued_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            queue_id=1,
            outcome="abandoned",
            wait_seconds=30,
        )
        tasks.build_statistics("2025-12-31", "2025-12-31")
        assert Statistic.objects.get(granularity="day", dimension="queue", key=1).abandoned == 1


def test_the_invoice_task_builds_the_months_draft(db, tenants):
    from reporting.models import Invoice
    from tests.reporting.factories import contract_in_force, tariff

    contract_in_force(tenants.alpha, tariffs=[tariff("inbound", "Inbound", fee="10.00")])
    with tenant_context(tenants.alpha):
        pk = tasks.build_invoice("2026-03-15")
        assert Invoice.objects.get(pk=pk).total == 10


def test_the_webhook_task_sent_by_name_is_the_registered_one():
    from config.celery import app
    from reporting import webhook_delivery

    assert (
        app.tasks[webhook_delivery.DELIVER_TASK].name
        == tasks.deliver_webhook.name
        == "reporting.tasks.deliver_webhook"
    )
