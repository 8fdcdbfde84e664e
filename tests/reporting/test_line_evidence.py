"""Issue 18: from an invoice line to the calls it counts, each call's events, and the evidence of
the line (every Twilio webhook of its calls, as received) as JSON or CSV; portal and back office,
each company seeing only its own."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django_tenants.utils import tenant_context

from accounts.models import Role
from reporting import billing
from reporting.models import Invoice
from telephony.calls.models import Call, CallEvent
from tests.conftest import http, logged_in, make_user
from tests.factories import CallFactory
from tests.reporting.factories import contract_in_force, tariff
from tests.twilio_kit import signed_post

MARCH = dt.date(2026, 3, 1)


def status_callback(tenant, call: Call, **fields: str) -> None:
    params = {"AccountSid": "AC" + "1" * 32, "CallSid": call.call_sid, "From": call.from_number,
              "To": call.to_number, "CallStatus": "completed", "CallDuration": "65", **fields}  # fmt: skip
    assert signed_post(f"/twilio/voice/status?t={tenant.schema_name}", params).status_code == 204


@pytest.fixture
def invoice(db, tenants) -> Invoice:
    contract_in_force(tenants.alpha, tariffs=[tariff("inbound", "Inbound", minute="0.5000")])
    with tenant_context(tenants.alpha):
        calls = [
            CallFactory(
                started_at=dt.datetime(2026, 3, 2, 9 + i, tzinfo=dt.UTC),
                answered=True,
                talk=60,
                status=Call.Status.IN_PROGRESS,
            )
            for i in range(2)
        ]
        CallEvent.objects.create(call=calls[0], at=calls[0].started_at, kind="queued", data={"queue": 1})
    for call in calls:
        status_callback(tenants.alpha, call)
    with tenant_context(tenants.alpha):
        built = billing.invoice_build(month=MARCH)
        return billing.invoice_issue(invoice=built)


def test_the_portal_opens_a_lines_calls_and_downloads_its_evidence(invoice, tenants):
    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))
    with tenant_context(tenants.alpha):
        line = invoice.lines.get(service_code="inbound")
        calls = list(Call.objects.order_by("started_at"))
    detail = viewer.get(f"/reports/invoices/{invoice.pk}/").content.decode()
    assert f"/reports/invoices/{invoice.pk}/lines/{line.position}/" in detail
    page = viewer.get(f"/reports/invoices/{invoice.pk}/lines/{line.position}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert all(f"/reports/calls/{c.pk}/" in body for c in calls)  # each call opens its events
    assert "status: completed" in viewer.get(f"/reports/calls/{calls[0].pk}/").content.decode()

    data = json.loads(b"".join(viewer.get(f"{page.request['PATH_INFO']}evidence.json").streaming_content))
    assert data["line"]["call_count"] == line.call_count == 2
    assert [c["call_sid"] for c in data["calls"]] == [c.call_sid for c in calls]
    first = data["calls"][0]
    assert [e["kind"] for e in first["events"]][:1] == ["queued"]
    (hook,) = first["webhooks"]
    assert hook["params"]["CallDuration"] == "65" and hook["signature"] and hook["url"].endswith("t=t_alpha")

    response = viewer.get(f"/reports/invoices/{invoice.pk}/lines/{line.position}/evidence.csv")
    assert response["Content-Disposition"].startswith('attachment; filename="alpha-')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["call_sid"] for r in rows] == [c.call_sid for c in calls]
    assert json.loads(rows[0]["params"])["CallStatus"] == "completed"
    assert viewer.get(f"/reports/invoices/{invoice.pk}/lines/{line.position}/evidence.xml").status_code == 404
    assert viewer.get(f"/reports/invoices/{invoice.pk}/lines/99/").status_code == 404


def test_another_company_reaches_none_of_it(invoice, tenants):
    beta = logged_in(tenants.beta, make_user(tenants.beta, role=Role.CLIENT_ADMIN))
    for path in ("", "evidence.json", "evidence.csv"):
        assert beta.get(f"/reports/invoices/{invoice.pk}/lines/1/{path}").status_code == 404


def test_a_draft_lines_evidence_is_not_the_clients_yet(db, tenants):
    contract_in_force(tenants.alpha, tariffs=[tariff("inbound", "Inbound", minute="0.5000")])
    with tenant_context(tenants.alpha):
        CallFactory(started_at=dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), answered=True)
        draft = billing.invoice_build(month=MARCH)
    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_ADMIN))
    assert viewer.get(f"/reports/invoices/{draft.pk}/lines/1/evidence.json").status_code == 404


def test_the_back_office_opens_a_lines_calls_with_their_events_and_evidence(invoice, tenants):
    manager = logged_in(None, make_user(None, role=Role.ACCOUNT_MANAGER))
    base = f"/backoffice/reports/invoices/{tenants.alpha.pk}/{invoice.pk}"
    assert f"{base}/lines/1/" in manager.get(f"{base}/").content.decode()
    page = manager.get(f"{base}/lines/1/").content.decode()
    with tenant_context(tenants.alpha):
        sids = list(Call.objects.order_by("started_at").values_list("call_sid", flat=True))
    assert all(sid in page for sid in sids) and "queued" in page and "status:completed" in page
    data = json.loads(b"".join(manager.get(f"{base}/lines/1/evidence.json").streaming_content))
    assert len(data["calls"]) == 2 and all(len(c["webhooks"]) == 1 for c in data["calls"])
    # Beta's id with alpha's invoice number: beta has no such invoice.
    assert (
        manager.get(f"/backoffice/reports/invoices/{tenants.beta.pk}/{invoice.pk}/lines/1/").status_code
        == 404
    )
    supervisor = logged_in(None, make_user(None, role=Role.SUPERVISOR))
    assert supervisor.get(f"{base}/lines/1/evidence.json").status_code == 403
    assert http(None).get(f"{base}/lines/1/").status_code == 302
