"""What a call's webhooks cost (issue 23): the company a conference webhook names is read once per
process, not once per webhook."""

from __future__ import annotations

from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from telephony.signatures import named_call


def _request(schema: str, call: str = "7"):
    return RequestFactory().post(f"/twilio/conference?t={schema}&c={call}")


def test_a_conference_webhook_names_its_company_without_a_query_once_known(db, tenants):
    assert named_call(_request(tenants.alpha.schema_name)) == (tenants.alpha, 7)
    with CaptureQueriesContext(connection) as queries:
        tenant, call_id = named_call(_request(tenants.alpha.schema_name, "8"))
        other, _ = named_call(_request(tenants.beta.schema_name, "9"))
    assert (tenant.schema_name, call_id) == (tenants.alpha.schema_name, 8)
    assert other.schema_name == tenants.beta.schema_name  # each URL's own company, never another's
    assert len(queries) == 1  # beta's first time only


def test_an_unknown_schema_or_call_names_nothing(db, tenants):
    assert named_call(_request("t_nobody")) is None
    assert named_call(_request("public")) is None  # the platform is no company
    assert named_call(_request(tenants.alpha.schema_name, "x")) is None


def test_a_company_saved_in_this_process_is_read_again(db, tenants):
    named_call(_request(tenants.alpha.schema_name))
    tenants.alpha.save()
    with CaptureQueriesContext(connection) as queries:
        named_call(_request(tenants.alpha.schema_name))
    assert len(queries) == 1
