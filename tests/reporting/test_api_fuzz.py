"""Schema-driven fuzzing of the REST API v1 with schemathesis: every operation of the published
OpenAPI schema, with valid and invalid generated input, against a client company with real data,
answers no 5xx and only responses its schema documents (status, content type and body).

The requests go in-process to Django through its test request handler (no server, same
transaction as the test), on the tenant's host, with a real API key of that tenant.
"""

from __future__ import annotations

import base64
import datetime as dt

import pytest
import schemathesis
from django.db import transaction
from django.test.client import ClientHandler
from django_tenants.utils import tenant_context
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from reporting import billing, stats
from reporting.api.auth import PerKeyRateThrottle
from reporting.keys import api_key_create
from scripts_engine.models import Script, ScriptAnswer, ScriptSession, ScriptVersion
from telephony.calls.models import Call, CallEvent, Contact
from tests.conftest import http
from tests.factories import CallFactory
from tests.reporting.factories import contract_in_force, tariff

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
CONFIG = {
    "seed": 20260302,  # the same cases on every run: a failure here is reproducible, not flaky
    "generation": {
        "mode": "all",  # valid and invalid input
        "max-examples": 20,
        "deterministic": True,
        "with-security-parameters": False,  # the key is ours (below), not a generated one
    },
    "phases": {"stateful": {"enabled": False}},
}


def wsgi_app(environ, start_response):
    """Django's test request handler as a WSGI application: it keeps the test's connection (and
    transaction) open around each request, as ``django.test.Client`` does. Each request is undone
    (a savepoint), so one that fails in the database leaves the next ones a working transaction,
    as separate requests have in production."""
    savepoint = transaction.savepoint()
    try:
        response = ClientHandler(enforce_csrf_checks=True)(environ)
    finally:
        transaction.savepoint_rollback(savepoint)
    headers = [*response.items(), *(("Set-Cookie", c.output(header="")) for c in response.cookies.values())]
    start_response(f"{response.status_code} {response.reason_phrase}", headers)
    return [response.content]


@pytest.fixture
def api_data(db, tenants):
    """A client company with what every endpoint shows: calls (with events and script answers),
    contacts, statistics, an issued invoice and a script."""
    contract_in_force(tenants.alpha, tariffs=[tariff("inbound", "Inbound", fee="100.00", minute="0.5000")])
    with tenant_context(tenants.alpha):
        Contact.objects.create(phone="+15550100100", first_name="Ann", last_name="Lee", vip=True)
        script = Script.objects.create(name="Sales line")
        graph = {"format": 1, "start": "name", "nodes": {"name": {"kind": "question", "text": "Your name?"}}}
        version = ScriptVersion.objects.create(script=script, number=1, graph=graph, state="active")
        session = ScriptSession.objects.create(version=version, kind="call")
        ScriptAnswer.objects.create(session=session, node_id="name", value="Ann Lee", by_name="Jane Doe")
        calls = [
            CallFactory(
                started_at=T0 + dt.timedelta(minutes=7 * i),
                queued_at=T0,
                queue_id=1 + i % 2,
                queue_name=f"Queue {1 + i % 2}",
                answered_at=T0 + dt.timedelta(seconds=i),
                wait_seconds=i,
                operator_id=7,
                operator_name="Jane Doe",
                outcome=Call.Outcome.HANDLED,
                talk_seconds=60,
                disposition="sale",
            )
            for i in range(6)
        ]
        calls.append(
            CallFactory(
                started_at=T0, queued_at=T0, queue_id=2, wait_seconds=30, outcome=Call.Outcome.ABANDONED
            )
        )
        Call.objects.filter(pk=calls[0].pk).update(script_session=session)
        CallEvent.objects.create(call=calls[0], at=T0, kind="queued", data={"queue": 1})
        CallEvent.objects.create(call=calls[0], at=T0, kind="bridged", data={"operator": "jane"})
        stats.build_days(first=T0.date(), last=T0.date())
        billing.invoice_issue(invoice=billing.invoice_build(month=T0.date().replace(day=1)))
        _, key = api_key_create(name="fuzz", scopes=["read_calls", "read_reports"])
    return key


@pytest.fixture
def api_schema(api_data, tenants, monkeypatch):
    monkeypatch.setattr(PerKeyRateThrottle, "rate", "100000/min")  # explore, not hit the limit
    response = http(tenants.alpha).get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = schemathesis.openapi.from_dict(response.json(), config=schemathesis.Config.from_dict(CONFIG))
    schema.app = wsgi_app
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_the_api_answers_every_generated_request_as_its_schema_says(case, api_data, tenants):
    case.call_and_validate(
        base_url=f"http://{tenants.alpha.host}",
        headers={"Authorization": f"Bearer {api_data}"},
        checks=CHECKS,
    )


def _cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        # What the fuzzing found (500s before): the database cannot take an offset over ±15:59 ...
        ("/api/v1/calls/", {"started_after": "2000-01-01T00:00:00+16:00"}, 200),
        # ... nor, in UTC, a moment before the year 1.
        ("/api/v1/calls/", {"started_before": "0001-01-01T00:00:00+01:00"}, 400),
        # A hand-made cursor whose position is no value of the ordering field.
        ("/api/v1/calls/", {"cursor": _cursor("p=garbage")}, 404),
        ("/api/v1/calls/", {"cursor": _cursor("p=0076-10-14 19:26:06-22:07")}, 200),
        ("/api/v1/contacts/", {"cursor": _cursor("p=abc")}, 404),
        ("/api/v1/invoices/", {"cursor": _cursor("p=zz")}, 404),
        ("/api/v1/scripts/", {"cursor": _cursor("p=\x00")}, 404),
        # A path the router does not know (an id that is no integer): JSON, as documented.
        ("/api/v1/calls/0.5/", {}, 404),
        ("/api/v1/invoices/1e-07/pdf/", {}, 404),
        # Already a 4xx, kept so.
        ("/api/v1/calls/", {"number": "a\x00b"}, 400),
        ("/api/v1/statistics/", {"day_from": "yesterday"}, 400),
        ("/api/v1/calls/99999999999999999999/", {}, 404),
    ],
)
def test_bad_input_is_a_documented_client_error(api_data, tenants, path, params, status):
    response = http(tenants.alpha).get(path, params, HTTP_AUTHORIZATION=f"Bearer {api_data}")
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    if status >= 400:
        assert response.json().get("detail") or all(isinstance(v, list) for v in response.json().values())


def test_a_legitimate_cursor_still_pages_through_every_call(api_data, tenants):
    client, seen = http(tenants.alpha), []
    url, params = "/api/v1/calls/", {"page_size": 2}
    while url:
        body = client.get(url, params, HTTP_AUTHORIZATION=f"Bearer {api_data}").json()
        seen += [c["id"] for c in body["results"]]
        url, params = body["next"], {}
    with tenant_context(tenants.alpha):
        assert sorted(seen) == sorted(Call.objects.values_list("pk", flat=True)) and len(seen) == 7
