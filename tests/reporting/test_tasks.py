"""Beat's dispatcher enqueues each active client company's build inside its schema."""

import datetime as dt

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from reporting import tasks
from reporting.models import Statistic
from tests.factories import CallFactory


def test_the_dispatcher_sends_each_tenants_build_from_inside_its_schema(db, tenants, monkeypatch):
    sent_from = []
    monkeypatch.setattr(
        tasks.build_recent_statistics, "delay", lambda: sent_from.append(connection.schema_name)
    )
    count = tasks.dispatch_statistics()
    assert {tenants.alpha.schema_name, tenants.beta.schema_name} <= set(sent_from)
    assert "public" not in sent_from and count == len(sent_from)


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
