"""Callbacks lists: the client's portal and API, the back office across companies and the
operators' list of their queues; due times, attempts and each try's outcome; no company sees
another's callbacks."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Role
from operations import callbacks
from reporting.keys import api_key_create
from telephony.calls.models import Callback, TelephonySettings
from tenants import sql
from tenants.models import Client
from tests.conftest import http, logged_in, make_user
from tests.factories import CallbackFactory, CallEventFactory, CallFactory, QueueFactory
from tests.telephony.helpers import make_operator

NOW = timezone.now().replace(microsecond=0)


def _tried(callback: Callback, outcome: str, at: dt.datetime) -> None:
    """One try: the outbound call placed for the callback and its result event, as the dialer writes them."""
    placed = CallFactory(outbound=True, started_at=at, try_of=callback)
    CallEventFactory(call=placed, kind="outbound_task", data={"task": "callback", "callback": callback.pk})
    CallEventFactory(call=placed, at=at, kind="callback_result", data={"outcome": outcome, "state": "open"})


@pytest.fixture
def alpha_callbacks(db, tenants):
    queue = QueueFactory(tenant=tenants.alpha, name="Sales")
    with tenant_context(tenants.alpha):
        TelephonySettings.objects.update_or_create(pk=1, defaults={"timezone": "Europe/Berlin"})
        due = CallbackFactory(
            phone="+4930111111", queue_id=queue.pk, due_at=NOW - dt.timedelta(minutes=5), attempts=2
        )
        _tried(due, "busy", NOW - dt.timedelta(minutes=40))
        _tried(due, "no_answer", NOW - dt.timedelta(minutes=20))
        later = CallbackFactory(
            phone="+4930222222", queue_id=queue.pk, reason=Callback.Reason.AFTER_HOURS,
            due_at=NOW + dt.timedelta(hours=10),
        )  # fmt: skip
        done = CallbackFactory(phone="+4930333333", queue_id=queue.pk, state=Callback.State.DONE, attempts=1)
        _tried(done, "answered", NOW - dt.timedelta(hours=1))
    return {"queue": queue, "due": due, "later": later, "done": done}


def test_the_client_sees_due_later_and_done_callbacks_with_their_tries(alpha_callbacks, tenants):
    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))
    due_page = viewer.get("/callbacks/").content.decode()
    assert "+4930111111" in due_page and "+4930222222" not in due_page and "+4930333333" not in due_page
    assert "Due now (1)" in due_page and "Booked for later (1)" in due_page and "Done (1)" in due_page
    assert "busy" in due_page and "no_answer" in due_page
    berlin = timezone.localtime(alpha_callbacks["due"].due_at, zoneinfo.ZoneInfo("Europe/Berlin"))
    assert berlin.strftime("%a %d %b %H:%M") in due_page  # the company's time, not UTC
    later_page = viewer.get("/callbacks/", {"state": "pending"}).content.decode()
    assert "+4930222222" in later_page and "Called after hours" in later_page
    done_page = viewer.get("/callbacks/", {"state": "done"}).content.decode()
    assert "+4930333333" in done_page and "answered" in done_page


def test_the_api_lists_callbacks_with_their_tries_for_a_calls_key_only(alpha_callbacks, tenants):
    with tenant_context(tenants.alpha):
        _, calls_key = api_key_create(name="crm", scopes=["read_calls"])
        _, reports_key = api_key_create(name="bi", scopes=["read_reports"])
    client = http(tenants.alpha)
    body = client.get(
        "/api/v1/callbacks/", {"state": "open"}, HTTP_AUTHORIZATION=f"Bearer {calls_key}"
    ).json()
    by_phone = {c["phone"]: c for c in body["results"]}
    assert set(by_phone) == {"+4930111111", "+4930222222"}
    assert by_phone["+4930111111"]["is_due"] is True and by_phone["+4930222222"]["is_due"] is False
    assert [t["outcome"] for t in by_phone["+4930111111"]["tries"]] == ["busy", "no_answer"]
    assert by_phone["+4930111111"]["attempts"] == 2
    one = client.get(
        f"/api/v1/callbacks/{alpha_callbacks['done'].pk}/", HTTP_AUTHORIZATION=f"Bearer {calls_key}"
    )
    assert one.status_code == 200 and [t["outcome"] for t in one.json()["tries"]] == ["answered"]
    refused = client.get("/api/v1/callbacks/", HTTP_AUTHORIZATION=f"Bearer {reports_key}")
    assert refused.status_code == 403
    assert client.get("/api/v1/callbacks/").status_code == 401


def test_another_company_neither_lists_nor_reads_these_callbacks(alpha_callbacks, tenants):
    """Tenant isolation: the portal page, the API list and the API detail of another company."""
    beta_admin = make_user(tenants.beta, role=Role.CLIENT_ADMIN)
    page = logged_in(tenants.beta, beta_admin).get("/callbacks/", {"state": "all"}).content.decode()
    assert "+4930111111" not in page
    with tenant_context(tenants.beta):
        _, beta_key = api_key_create(name="crm", scopes=["read_calls"])
    client = http(tenants.beta)
    listed = client.get("/api/v1/callbacks/", HTTP_AUTHORIZATION=f"Bearer {beta_key}").json()["results"]
    assert "+4930111111" not in {c["phone"] for c in listed}
    detail = client.get(
        f"/api/v1/callbacks/{alpha_callbacks['due'].pk}/", HTTP_AUTHORIZATION=f"Bearer {beta_key}"
    )
    assert detail.status_code == 404


def test_the_back_office_sees_each_companys_due_callbacks(alpha_callbacks, tenants):
    supervisor = make_user(None, role=Role.SUPERVISOR)
    page = logged_in(None, supervisor).get("/staff/operations/callbacks/").content.decode()
    assert "Alpha Ltd" in page and "+4930111111" in page and "no_answer" in page
    assert "+4930222222" not in page  # due in ten hours: not on the board of the hour


def test_the_board_visits_only_the_companies_with_a_callback_due_within_the_hour(alpha_callbacks, tenants):
    """Issue 23: the companies to show are found in one statement per batch of schemas; a company
    with nothing urgent (beta) is not entered, nor listed."""
    with tenant_context(tenants.beta):
        CallbackFactory(phone="+4930999999", due_at=NOW + dt.timedelta(hours=5))  # booked for later
    supervisor = logged_in(None, make_user(None, role=Role.SUPERVISOR))
    with CaptureQueriesContext(connection) as queries:
        page = supervisor.get("/staff/operations/callbacks/").content.decode()
    assert "Alpha Ltd" in page and "+4930111111" in page
    assert "Beta GmbH" not in page and "+4930999999" not in page
    entered = [q["sql"] for q in queries.captured_queries if "search_path" in q["sql"]]
    assert any(tenants.alpha.schema_name in sql for sql in entered)
    assert not any(tenants.beta.schema_name in sql for sql in entered)


def test_the_companies_with_urgent_callbacks_are_found_batch_by_batch_and_by_queue(
    alpha_callbacks, tenants, monkeypatch
):
    monkeypatch.setattr(sql, "SCHEMAS_A_STATEMENT", 1)  # a statement a schema
    unmade = Client(slug="unmade", name="Unmade", schema_name="t_unmade_schema")  # a row, no schema yet
    every = [tenants.alpha, tenants.beta, unmade]
    with tenant_context(tenants.beta):
        CallbackFactory(state=Callback.State.DIALING, due_at=NOW - dt.timedelta(hours=3))
    found = callbacks.unscoped_with_urgent_callbacks
    assert found(every, now=NOW) == {tenants.alpha.schema_name, tenants.beta.schema_name}
    sales = {alpha_callbacks["queue"].pk}
    assert found(every, now=NOW, queue_ids=sales) == {tenants.alpha.schema_name}
    assert found(every, now=NOW, queue_ids={sales.pop() + 1000}) == set()
    assert found(every, now=NOW - dt.timedelta(hours=2)) == {tenants.beta.schema_name}  # alpha's not due yet


def test_an_operator_sees_only_the_callbacks_of_the_queues_they_serve(alpha_callbacks, tenants):
    beta_queue = QueueFactory(tenant=tenants.beta)
    serves_beta = make_operator({beta_queue: 1})
    serves_alpha = make_operator({alpha_callbacks["queue"]: 1})
    beta_page = logged_in(None, serves_beta.user).get("/staff/operations/callbacks/").content.decode()
    assert "+4930111111" not in beta_page and "Alpha Ltd" not in beta_page
    alpha_page = logged_in(None, serves_alpha.user).get("/staff/operations/callbacks/").content.decode()
    assert "+4930111111" in alpha_page


def test_client_staff_cannot_open_the_back_office_board(db, tenants):
    admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    assert logged_in(tenants.alpha, admin).get("/staff/operations/callbacks/").status_code == 404


def test_the_published_api_schema_documents_the_callbacks(db, tenants):
    paths = http(tenants.alpha).get("/api/v1/schema/", {"format": "json"}).json()["paths"]
    assert {"/api/v1/callbacks/", "/api/v1/callbacks/{id}/"} <= set(paths)


def test_the_tries_of_both_kinds_of_callbacks_are_read_through_their_call_in_one_query(
    db, tenants, django_assert_num_queries
):
    """Before: the tries were found through their calls' events, then their results (two queries)."""
    from operations.callbacks import Attempt, attempts_of

    with tenant_context(tenants.alpha):
        booked = CallbackFactory(phone="+4930444444")
        _tried(booked, "busy", NOW - dt.timedelta(minutes=30))
        _tried(booked, "no_answer", NOW - dt.timedelta(minutes=10))
        kept = CallbackFactory(phone="+4930555555", keeps_place=True, state=Callback.State.IN_LINE)
        try_ = CallFactory(outbound=True, started_at=NOW, try_of=kept, place_keeping_try=True)
        CallEventFactory(call=try_, kind="callback_dial", data={"callback": kept.pk, "attempt": 1})
        CallEventFactory(
            call=try_, at=NOW, kind="callback_result", data={"outcome": "busy", "state": "in_line"}
        )
        untried = CallbackFactory(phone="+4930666666")
        with django_assert_num_queries(1):
            found = attempts_of([booked.pk, kept.pk, untried.pk])
    assert found == {
        booked.pk: [
            Attempt(at=NOW - dt.timedelta(minutes=30), outcome="busy"),
            Attempt(at=NOW - dt.timedelta(minutes=10), outcome="no_answer"),
        ],
        kept.pk: [Attempt(at=NOW, outcome="busy")],
    }
