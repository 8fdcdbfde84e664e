"""Entering a schema the connection is in already costs nothing (issue 23); entering another one
switches, so a company's code never reads another company's rows."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context, tenant_context

from telephony.calls.models import Call
from tenants.switching import company_context, public_context
from tests.factories import CallFactory


def _searched(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SET search_path")]


def test_a_company_entered_again_is_not_switched_to_again(db, tenants):
    with tenant_context(tenants.alpha):
        Call.objects.count()
        with CaptureQueriesContext(connection) as queries, company_context(tenants.alpha):
            Call.objects.count()
        Call.objects.count()  # and nothing to set back on the way out
    assert len(queries) == 1 and not _searched(queries)


def test_another_company_is_switched_to_and_back(db, tenants):
    with tenant_context(tenants.alpha):
        CallFactory(call_sid="CA" + "a" * 32)
        with company_context(tenants.beta):
            assert connection.schema_name == tenants.beta.schema_name
            assert not Call.objects.filter(call_sid="CA" + "a" * 32).exists()  # alpha's call, not here
        assert connection.schema_name == tenants.alpha.schema_name
        assert Call.objects.filter(call_sid="CA" + "a" * 32).exists()


def test_a_schema_entered_by_name_only_is_switched_from(db, tenants):
    """Under ``schema_context`` the connection knows a schema name, not the company: entered again."""
    with schema_context(tenants.alpha.schema_name), company_context(tenants.alpha):
        assert connection.tenant.pk == tenants.alpha.pk


def test_the_public_schema_is_entered_only_from_elsewhere(db, tenants):
    clients = type(tenants.alpha).objects
    with schema_context("public"):
        clients.count()
        with CaptureQueriesContext(connection) as queries, public_context():
            clients.count()
    assert len(queries) == 1 and not _searched(queries)
    with tenant_context(tenants.alpha), public_context():
        assert connection.schema_name == "public"
