"""REST API v1: Bearer keys with scopes, tenant isolation, rate limit, schema and docs."""

import datetime as dt

import pytest
from django.core.cache import cache
from django_tenants.utils import tenant_context

from reporting import stats
from reporting.api.auth import PerKeyRateThrottle
from reporting.keys import api_key_create, api_key_revoke
from telephony.calls.models import Call, CallEvent
from tests.conftest import http
from tests.factories import CallFactory

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def key_for(tenant, *scopes):
    with tenant_context(tenant):
        return api_key_create(name="crm", scopes=list(scopes))


def get(tenant, path, key=None, **params):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    return http(tenant).get(path, params, **headers)


@pytest.fixture
def calls(db, tenants):
    with tenant_context(tenants.alpha):
        made = [
            CallFactory(
                started_at=T0 + dt.timedelta(minutes=i),
                queued_at=T0,
                queue_id=1,
                wait_seconds=i,
                answered_at=T0,
                outcome=Call.Outcome.HANDLED,
                talk_seconds=60,
                disposition="sale",
            )
            for i in range(5)
        ]
        made.append(
            CallFactory(
                started_at=T0, queued_at=T0, queue_id=2, wait_seconds=30, outcome=Call.Outcome.ABANDONED
            )
        )
        CallEvent.objects.create(call=made[0], at=T0, kind="queued", data={"queue": 1})
        stats.build_days(first=T0.date(), last=T0.date())
    return made


def test_calls_are_listed_filtered_and_paged_by_cursor(calls, tenants):
    _, key = key_for(tenants.alpha, "read_calls")
    first = get(tenants.alpha, "/api/v1/calls/", key, page_size=4)
    assert first.status_code == 200
    assert len(first.json()["results"]) == 4 and first.json()["next"]
    rest = http(tenants.alpha).get(first.json()["next"], HTTP_AUTHORIZATION=f"Bearer {key}")
    ids = [c["id"] for c in first.json()["results"] + rest.json()["results"]]
    assert sorted(ids) == sorted(c.pk for c in calls)
    abandoned = get(tenants.alpha, "/api/v1/calls/", key, outcome="abandoned").json()["results"]
    assert [c["queue_id"] for c in abandoned] == [2]
    assert (
        len(get(tenants.alpha, "/api/v1/calls/", key, queue_id=1, disposition="sale").json()["results"]) == 5
    )


def test_call_detail_has_its_events_and_answers(calls, tenants):
    _, key = key_for(tenants.alpha, "read_calls")
    body = get(tenants.alpha, f"/api/v1/calls/{calls[0].pk}/", key).json()
    assert body["events"] == [{"at": "2026-03-02T10:00:00Z", "kind": "queued", "data": {"queue": 1}}]
    assert body["answers"] == []


def test_statistics_need_the_reports_scope(calls, tenants):
    _, calls_only = key_for(tenants.alpha, "read_calls")
    _, reports = key_for(tenants.alpha, "read_reports")
    assert get(tenants.alpha, "/api/v1/statistics/", calls_only).status_code == 403
    assert get(tenants.alpha, "/api/v1/calls/", reports).status_code == 403
    days = get(tenants.alpha, "/api/v1/statistics/", reports, granularity="day", dimension="queue").json()
    by_queue = {row["key"]: row for row in days["results"]}
    assert by_queue[1]["answered"] == 5 and by_queue[1]["service_level"] == 1.0
    assert by_queue[2]["abandon_rate"] == 1.0


@pytest.mark.parametrize(
    "path",
    ["/api/v1/calls/", "/api/v1/contacts/", "/api/v1/statistics/", "/api/v1/invoices/", "/api/v1/scripts/"],
)
def test_every_endpoint_refuses_no_key_a_revoked_key_and_another_tenants_key(path, calls, tenants):
    both = ["read_calls", "read_reports"]
    alpha_key, alpha_text = key_for(tenants.alpha, *both)
    _, beta_text = key_for(tenants.beta, *both)
    assert get(tenants.alpha, path, alpha_text).status_code == 200
    assert get(tenants.alpha, path).status_code == 401
    assert get(tenants.alpha, path, beta_text).status_code == 401
    assert get(tenants.alpha, path, alpha_text + "x").status_code == 401
    with tenant_context(tenants.alpha):
        api_key_revoke(key=alpha_key)
    assert get(tenants.alpha, path, alpha_text).status_code == 401


def test_another_tenant_sees_none_of_the_calls(calls, tenants):
    _, key = key_for(tenants.beta, "read_calls")
    assert get(tenants.beta, "/api/v1/calls/", key).json()["results"] == []
    assert get(tenants.beta, f"/api/v1/calls/{calls[0].pk}/", key).status_code == 404


def test_keys_are_stored_hashed(db, tenants):
    key, text = key_for(tenants.alpha, "read_calls")
    assert text.startswith(f"cck_{key.prefix}_") and text not in key.key_hash and len(key.key_hash) == 64


def test_over_the_limit_a_key_gets_429_with_retry_after(calls, tenants, monkeypatch):
    monkeypatch.setattr(PerKeyRateThrottle, "rate", "3/min")
    cache.clear()
    _, key = key_for(tenants.alpha, "read_calls")
    _, other = key_for(tenants.alpha, "read_calls")
    codes = [get(tenants.alpha, "/api/v1/contacts/", key).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = get(tenants.alpha, "/api/v1/contacts/", key)
    assert limited.status_code == 429 and 0 < int(limited["Retry-After"]) <= 60
    assert get(tenants.alpha, "/api/v1/contacts/", other).status_code == 200  # the limit is per key


def test_openapi_schema_and_docs_are_served_without_a_cdn(db, tenants):
    schema = get(tenants.alpha, "/api/v1/schema/", format="json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {
        "/api/v1/calls/",
        "/api/v1/calls/{id}/",
        "/api/v1/statistics/",
        "/api/v1/invoices/{id}/pdf/",
    } <= set(paths)
    docs = get(tenants.alpha, "/api/v1/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert (
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html and "cdn" not in html
    )


def test_client_admins_create_and_revoke_keys_in_the_portal_and_see_the_text_once(db, tenants):
    from accounts.models import Role
    from reporting.keys import ApiKey
    from tests.conftest import logged_in, make_user

    admin = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_ADMIN))
    page = admin.post("/api-keys/", {"name": "CRM", "scopes": ["read_calls"]})
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    text = page.context["created"]
    assert text.startswith("cck_") and text in page.content.decode()
    assert text not in admin.get("/api-keys/").content.decode()
    assert get(tenants.alpha, "/api/v1/calls/", text).status_code == 200
    with tenant_context(tenants.alpha):
        key = ApiKey.objects.get(name="CRM")
    assert admin.post(f"/api-keys/{key.pk}/revoke/").status_code == 302
    assert get(tenants.alpha, "/api/v1/calls/", text).status_code == 401
    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))
    assert viewer.get("/api-keys/").status_code == 403
    assert http(tenants.beta).get("/api-keys/").status_code == 302  # another host: its own login


def test_invoices_show_issued_ones_only_with_their_pdf(db, tenants):
    from reporting import billing
    from tests.reporting.factories import contract_in_force, tariff

    contract_in_force(tenants.alpha, tariffs=[tariff("inbound", "Inbound", fee="100.00", minute="0.5000")])
    with tenant_context(tenants.alpha):
        CallFactory(
            started_at=T0,
            queued_at=T0,
            answered_at=T0,
            wait_seconds=0,
            talk_seconds=90,
            outcome=Call.Outcome.HANDLED,
        )
        draft = billing.invoice_build(month=dt.date(2026, 3, 1))
    _, key = key_for(tenants.alpha, "read_reports")
    assert get(tenants.alpha, "/api/v1/invoices/", key).json()["results"] == []
    with tenant_context(tenants.alpha):
        billing.invoice_issue(invoice=draft)
    listed = get(tenants.alpha, "/api/v1/invoices/", key).json()["results"]
    assert [i["total"] for i in listed] == ["100.75"] and len(listed[0]["lines"]) == 2
    pdf = get(tenants.alpha, f"/api/v1/invoices/{draft.pk}/pdf/", key)
    assert (
        pdf.status_code == 200
        and pdf["Content-Type"] == "application/pdf"
        and pdf.content.startswith(b"%PDF")
    )
