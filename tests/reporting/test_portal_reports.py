"""The portal's reporting pages on a client company's host: dashboard, calls, invoices and exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zoneinfo
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context
from openpyxl import load_workbook

from accounts.models import Role
from reporting import kpis, stats
from reporting.billing import invoice_issue
from reporting.models import Invoice, InvoiceLine, Statistic
from scripts_engine.models import Disposition, Script, ScriptAnswer, ScriptSession, ScriptVersion
from telephony.calls.models import Call, CallEvent, Contact, TelephonySettings
from telephony.models import Queue
from tests.conftest import http, logged_in, make_user
from tests.factories import CallFactory
from tests.reporting.factories import contract_in_force, facts

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
DAY = dt.date(2026, 3, 2)  # a Monday; Berlin is UTC+1 then


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=BERLIN)


def queue(tenant, name: str) -> Queue:
    """A platform queue of the tenant (public schema, where each test starts)."""
    assert connection.schema_name == "public"
    return Queue.objects.get_or_create(tenant=tenant, name=name)[0]


class World:
    """Alpha's hand-made calls over three local days, with their statistics built."""

    def __init__(self, tenants) -> None:
        self.sales = queue(tenants.alpha, "Sales")
        self.support = queue(tenants.alpha, "Support")
        with tenant_context(tenants.alpha):
            TelephonySettings.objects.update_or_create(pk=1, defaults={"timezone": "Europe/Berlin"})
            Disposition.objects.get_or_create(code="sale", defaults={"label": "Sale made"})
            Disposition.objects.get_or_create(code="no_sale", defaults={"label": "No sale"})
            risky = Contact.objects.create(phone="+15550100001", first_name="=SUM(1+1)", last_name="@evil")
            sales = {"queue_id": self.sales.pk, "queue_name": "Sales"}
            support = {"queue_id": self.support.pk, "queue_name": "Support"}

            def handled(at, wait, talk, operator, disposition, **more):
                return CallFactory(
                    started_at=at, answered=True, wait=wait, talk=talk, wrapup_seconds=10,
                    operator_id=operator[0], operator_name=operator[1], disposition=disposition, **more,
                )  # fmt: skip

            jane, bob = (901, "Jane Doe"), (902, "Bob Stone")
            self.first = handled(local(DAY, 10), 10, 120, jane, "sale", contact=risky,
                                 from_number="+15550100001", **sales)  # fmt: skip
            self.slow = handled(local(DAY, 10, 20), 40, 60, jane, "no_sale", **sales)
            self.abandoned = CallFactory(started_at=local(DAY, 11), abandoned=True, wait=30, **support)
            self.short = CallFactory(started_at=local(DAY, 11, 5), short_abandoned=True, **support)
            self.ivr = CallFactory(started_at=local(DAY, 12), ivr_contained=True)
            self.outbound = CallFactory(
                started_at=local(DAY, 13), direction=Call.Direction.OUTBOUND, from_number="+15550199001",
                to_number="+4930123456", answered_at=local(DAY, 13), talk_seconds=30, wrapup_seconds=5,
                outcome=Call.Outcome.HANDLED, operator_id=bob[0], operator_name=bob[1], disposition="sale",
            )  # fmt: skip
            # 00:30 in Berlin is still the day before in UTC: it counts on DAY, not the day before.
            self.early = handled(local(DAY, 0, 30), 5, 50, bob, "sale", **sales)
            self.next_day = handled(local(DAY + dt.timedelta(days=1), 9), 5, 90, bob, "sale", **sales)
            self.day_before = handled(local(DAY - dt.timedelta(days=1), 23, 50), 5, 30, bob, "", **sales)
            stats.build_days(first=DAY - dt.timedelta(days=1), last=DAY + dt.timedelta(days=1))
            self.calls = list(Call.objects.order_by("started_at"))

    def on(self, *days: dt.date) -> list[Call]:
        return [c for c in self.calls if c.started_at.astimezone(BERLIN).date() in days]


@pytest.fixture
def world(db, tenants) -> World:
    return World(tenants)


@pytest.fixture
def viewer(db, tenants):
    return logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))


def ids(rows) -> set[int]:
    return {int(r["id"]) for r in rows}


def parse_csv(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))


def parse_xlsx(response) -> tuple[list[dict[str, object]], object]:
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[0]]
    return [dict(zip(header, (c.value for c in row), strict=True)) for row in rows[1:]], sheet


PAGES = [
    "/reports/",
    "/reports/today/",
    "/reports/statistics.csv",
    "/reports/calls/",
    "/reports/calls/export.csv",
    "/reports/calls/export.xlsx",
    "/reports/calls/1/",
    "/reports/invoices/",
    "/reports/invoices/export.xlsx",
    "/reports/invoices/1/",
    "/reports/invoices/1/pdf/",
]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(db, tenants, path):
    response = http(tenants.alpha).get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_reports_do_not_exist_on_the_platform_host(db, tenants, platform_admin):
    client = logged_in(None, platform_admin)
    for path in ["/reports/", "/reports/calls/", "/reports/invoices/", "/reports/calls/export.csv"]:
        assert client.get(path).status_code == 404


def test_only_client_staff_may_read_reports(db, tenants):
    stranger = make_user(tenants.alpha, role=Role.OPERATOR)  # not a client role, even in alpha's schema
    client = logged_in(tenants.alpha, stranger)
    assert client.get("/reports/").status_code == 403
    assert client.get("/reports/calls/export.csv").status_code == 403
    for role in (Role.CLIENT_ADMIN, Role.CLIENT_EDITOR, Role.CLIENT_VIEWER):
        assert (
            logged_in(tenants.alpha, make_user(tenants.alpha, role=role)).get("/reports/").status_code == 200
        )


def test_dashboard_shows_the_period_from_the_statistics_by_the_definitions(world, viewer):
    response = viewer.get(
        "/reports/", {"start": DAY.isoformat(), "end": (DAY + dt.timedelta(days=1)).isoformat()}
    )
    assert response.status_code == 200
    assert response.context["report"]["thresholds"] == [20]
    assert "threshold-note" not in response.content.decode()
    expected = kpis.totals([facts(c) for c in world.on(DAY, DAY + dt.timedelta(days=1))])
    totals = response.context["report"]["totals"]
    for name in kpis.METRICS:
        assert getattr(totals, name) == getattr(expected, name), name
    period = response.context["period"]
    rates = kpis.rates(expected)
    assert period["offered"] == 6 and period["answered"] == 4 and period["abandoned"] == 2
    assert (
        period["service_level"] == f"{rates['service_level'] * 100:.1f} %" == "60.0 %"
    )  # 3 of (6 - 1 short)
    assert period["abandon_rate"] == "20.0 %" and period["ivr_containment"] == "100.0 %"
    chart = response.context["report"]["chart"]
    assert chart["labels"] == ["Mon 02 Mar", "Tue 03 Mar"]
    assert chart["offered"] == [5, 1] and chart["answered"] == [3, 1] and chart["abandoned"] == [2, 0]
    assert chart["target"] == 80  # no contract in force: the default target
    by_queue = {q["name"]: q["t"] for q in response.context["report"]["by_queue"]}
    assert by_queue["Sales"].offered == 4 and by_queue["Support"].abandoned == 2
    assert by_queue["No queue (IVR or direct)"].ivr_contained == 1
    by_operator = {o["name"]: o["t"] for o in response.context["report"]["by_operator"]}
    assert set(by_operator) == {"Jane D.", "Bob S."}
    assert by_operator["Jane D."].handled == 2 and by_operator["Bob S."].handled == 3
    html = response.content.decode()
    # Not the operators' names nor their ids (as a number of its own: a random username may hold "901").
    assert "Jane Doe" not in html and "Bob Stone" not in html and not re.search(r"\b901\b", html)


def test_a_one_day_period_is_charted_per_quarter_hour_in_local_time(world, viewer):
    response = viewer.get("/reports/", {"start": DAY.isoformat(), "end": DAY.isoformat()})
    chart = response.context["report"]["chart"]
    assert len(chart["labels"]) == 96 and chart["labels"][0] == "00:00"
    offered = dict(zip(chart["labels"], chart["offered"], strict=True))
    assert offered["00:30"] == 1 and offered["10:00"] == 1 and offered["10:15"] == 1 and offered["11:00"] == 2
    assert sum(chart["offered"]) == 5
    assert dict(zip(chart["labels"], chart["service_level"], strict=True))["10:15"] == 0.0  # waited 40 s


def test_the_service_level_target_is_the_contracts(world, tenants, viewer):
    with tenant_context(tenants.alpha):
        contract_in_force(tenants.alpha, tariffs=[], sl_percent=90, sl_seconds=45)
    # as its acceptance does (``queue_terms_apply``): a contract of the first form sets every queue
    Queue.objects.filter(tenant=tenants.alpha).update(sl_target_percent=90, service_level_seconds=45)
    response = viewer.get("/reports/", {"start": DAY.isoformat(), "end": DAY.isoformat()})
    assert response.context["target_percent"] == 90 and response.context["target_seconds"] == 45
    html = response.content.decode()
    assert "target 90 % in 45 s" in html
    assert "counts calls answered within 20 s" in html  # built before the contract: said, not hidden
    with tenant_context(tenants.alpha):
        stats.build_days(first=DAY, last=DAY)
    rebuilt = viewer.get("/reports/", {"start": DAY.isoformat(), "end": DAY.isoformat()})
    assert rebuilt.context["report"]["thresholds"] == [45]
    assert "threshold-note" not in rebuilt.content.decode()
    assert rebuilt.context["period"]["service_level"] == "75.0 %"  # 40 s is within 45 s now: 3 of (5 - 1)


def test_each_queue_is_measured_against_its_own_service_level_not_the_first_queues(world, tenants, viewer):
    """Before: every queue's calls were counted against one threshold (the contract's first queue's)
    and the dashboard coloured every figure against that queue's percent."""
    Queue.objects.filter(pk=world.sales.pk).update(sl_target_percent=90, service_level_seconds=45)
    Queue.objects.filter(pk=world.support.pk).update(sl_target_percent=60, service_level_seconds=10)
    now = timezone.now()
    with tenant_context(tenants.alpha):
        stats.build_days(first=DAY, last=DAY)
        rows = {
            r.name: r
            for r in Statistic.objects.filter(
                granularity=Statistic.Granularity.DAY, dimension=Statistic.Dimension.QUEUE, day=DAY
            )
        }
        # Sales: 10 s, 40 s and 5 s waits, all within its 45 s (the main queue's 20 s would miss one)
        assert (rows["Sales"].sl_seconds, rows["Sales"].answered_within_sl) == (45, 3)
        assert rows["Support"].sl_seconds == 10
        for wait, where in ((30, world.sales), (25, world.support)):  # live: within 45 s, not within 10 s
            CallFactory(started_at=now, queued_at=now - dt.timedelta(seconds=wait), answered_at=now,
                        wait_seconds=wait, outcome=Call.Outcome.HANDLED, talk_seconds=30,
                        queue_id=where.pk, queue_name=where.name)  # fmt: skip
    response = viewer.get("/reports/", {"start": DAY.isoformat(), "end": DAY.isoformat()})
    by_queue = {q["name"]: q for q in response.context["report"]["by_queue"]}
    assert (by_queue["Sales"]["service_level"], by_queue["Sales"]["target"]) == ("100.0 %", (90, 45))
    assert by_queue["Sales"]["sl_met"] is True
    assert (by_queue["Support"]["service_level"], by_queue["Support"]["sl_met"]) == ("0.0 %", False)
    assert response.context["report"]["thresholds"] == [10, 20, 45]  # 20 s: the calls without a queue
    # The company-wide figure: each call against its own queue's threshold, no one target to colour it.
    period = response.context["period"]
    assert period["service_level"] == "75.0 %" and period["sl_met"] is None  # 3 of (5 - 1 short)
    assert response.context["target_percent"] is None
    html = response.content.decode()
    assert "each call against its own queue's threshold" in html and "90 % in 45 s" in html
    assert 'class="num sl-missed">0.0 %' in html
    live = response.context["live"]
    assert live["service_level"] == "50.0 %" and live["sl_met"] is None
    assert viewer.get("/reports/today/").json()["service_level"] == "50.0 %"


def test_today_is_live_from_the_call_records(db, tenants, viewer):
    now = timezone.now()
    with tenant_context(tenants.alpha):
        CallFactory(
            started_at=now,
            queued_at=now,
            answered_at=now,
            wait_seconds=4,
            outcome=Call.Outcome.HANDLED,
            talk_seconds=30,
        )
        CallFactory(started_at=now, abandoned=True, wait=50)
        CallFactory(
            started_at=now - dt.timedelta(days=2),
            queued_at=now,
            wait_seconds=50,
            outcome=Call.Outcome.ABANDONED,
        )
    response = viewer.get("/reports/")
    live = response.context["live"]
    assert (live["offered"], live["answered"], live["abandoned"]) == (2, 1, 1)
    assert live["service_level"] == "50.0 %" and live["sl_met"] is False
    body = viewer.get("/reports/today/").json()
    assert body["offered"] == 2 and body["abandon_rate"] == "50.0 %"
    # The default period is the last 7 local days.
    form = response.context["form"]
    assert (form.cleaned_data["end"] - form.cleaned_data["start"]).days == 6


def test_another_companys_dashboard_and_live_figures_hold_none_of_alphas_calls(world, tenants):
    now = timezone.now()
    with tenant_context(tenants.alpha):
        CallFactory(
            started_at=now, queued_at=now, answered_at=now, wait_seconds=4, outcome=Call.Outcome.HANDLED
        )
        contract_in_force(tenants.alpha, tariffs=[], sl_percent=90, sl_seconds=45)
    beta = logged_in(tenants.beta, make_user(tenants.beta, role=Role.CLIENT_VIEWER))
    response = beta.get("/reports/", {"start": DAY.isoformat(), "end": DAY.isoformat()})
    assert response.status_code == 200
    assert response.context["report"]["totals"].calls == 0 and response.context["live"]["offered"] == 0
    assert response.context["target_percent"] == 80  # alpha's contract is not beta's
    assert beta.get("/reports/today/").json()["offered"] == 0


def test_a_period_backwards_is_refused_with_a_message(db, viewer):
    response = viewer.get("/reports/", {"start": "2026-03-05", "end": "2026-03-01"})
    assert response.status_code == 400
    assert "The first day must not be after the last day." in response.content.decode()
    assert viewer.get("/reports/", {"start": "yesterday"}).status_code == 400
    export = viewer.get("/reports/statistics.csv", {"start": "2026-03-05", "end": "2026-03-01"})
    assert export.status_code == 400 and b"first day" in export.content


def listed(client, **params) -> set[int]:
    response = client.get("/reports/calls/", params)
    assert response.status_code == 200, response.content[:300]
    return {c.pk for c, _, _ in response.context["calls"]}


def test_call_list_filters_include_and_exclude(world, viewer):
    w = world
    everything = {c.pk for c in w.calls}
    assert listed(viewer) == everything
    on_day = {c.pk for c in w.on(DAY)}
    assert listed(viewer, start=DAY, end=DAY) == on_day
    assert w.early.pk in on_day and w.day_before.pk not in on_day and w.next_day.pk not in on_day
    assert listed(viewer, start=DAY + dt.timedelta(days=1)) == {w.next_day.pk}
    assert listed(viewer, queue=w.support.pk) == {w.abandoned.pk, w.short.pk}
    assert listed(viewer, queue="0") == {w.ivr.pk, w.outbound.pk}
    assert listed(viewer, outcome="abandoned") == {w.abandoned.pk, w.short.pk}
    assert listed(viewer, disposition="no_sale") == {w.slow.pk}
    assert listed(viewer, direction="outbound") == {w.outbound.pk}
    assert listed(viewer, number="555 0100001") == {w.first.pk}  # spaces ignored, part of the caller's number
    assert listed(viewer, number="4930") == {w.outbound.pk}  # the callee's number too
    assert listed(viewer, queue=w.sales.pk, disposition="sale", start=DAY, end=DAY) == {
        w.first.pk,
        w.early.pk,
    }


def test_call_list_refuses_bad_filters_with_a_message(world, viewer):
    response = viewer.get("/reports/calls/", {"queue": "999999"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert response.context["page"].paginator.count == 0
    assert viewer.get("/reports/calls/", {"number": "=1+1"}).status_code == 400
    assert viewer.get("/reports/calls/", {"start": "2026-03-05", "end": "2026-03-01"}).status_code == 400
    export = viewer.get("/reports/calls/export.csv", {"outcome": "nonsense"})
    assert export.status_code == 400 and b"outcome" in export.content
    assert viewer.get("/reports/calls/export.pdf").status_code == 404


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
@pytest.mark.parametrize(
    "path", ["/reports/", "/reports/calls/", "/reports/calls/export.csv", "/reports/statistics.csv"]
)
def test_days_at_the_ends_of_the_calendar_are_400s(viewer, path, day):
    for params in [{"start": day}, {"end": day}, {"start": day, "end": day}]:
        assert viewer.get(path, params).status_code == 400, params


def test_call_list_pages_keep_the_filters(db, tenants, viewer):
    with tenant_context(tenants.alpha):
        start = local(DAY, 8)
        for i in range(53):
            CallFactory(started_at=start + dt.timedelta(minutes=i), outcome=Call.Outcome.FAILED)
        CallFactory(started_at=start, outcome=Call.Outcome.HANDLED)
    first = viewer.get("/reports/calls/", {"outcome": "failed"})
    assert len(first.context["calls"]) == 50 and first.context["page"].paginator.count == 53
    assert "?outcome=failed&amp;page=2" in first.content.decode()
    second = viewer.get("/reports/calls/", {"outcome": "failed", "page": 2})
    assert len(second.context["calls"]) == 3


def test_call_detail_shows_events_answers_disposition_and_recording(world, tenants, viewer):
    with tenant_context(tenants.alpha):
        script = Script.objects.create(name="Sales line")
        graph = {"format": 1, "start": "name", "nodes": {"name": {"kind": "question", "text": "Your name?"}}}
        version = ScriptVersion.objects.create(script=script, number=1, graph=graph, state="active")
        session = ScriptSession.objects.create(version=version, kind="call")
        ScriptAnswer.objects.create(session=session, node_id="name", value="Ann Lee", by_name="Jane Doe")
        call = world.first
        call.script_session = session
        call.recording_url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1.mp3"
        call.save()
        CallEvent.objects.create(call=call, at=call.started_at, kind="queued", data={"queue": "Sales"})
        CallEvent.objects.create(
            call=call, at=call.started_at + dt.timedelta(seconds=10), kind="bridged",
            data={"operator": "jane.doe@center.example"},
        )  # fmt: skip
    response = viewer.get(f"/reports/calls/{call.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Your name?" in html and "Ann Lee" in html
    assert "Sale made" in html and "Handled by an operator" in html
    assert "<audio" not in html and "being copied from Twilio" in html  # not in our storage yet
    assert call.recording_url not in html  # Twilio's URL needs our credentials: never handed out
    assert "10:00:00" in html and "Bridged" in html and "operator: Jane D." in html  # local time, Berlin
    assert "jane.doe@center.example" not in html and "Jane Doe" not in html
    with tenant_context(tenants.alpha):
        Call.objects.filter(pk=call.pk).update(recording_key=f"recordings/t_alpha/{call.call_sid}/RE1.mp3")
    stored = viewer.get(f"/reports/calls/{call.pk}/").content.decode()
    assert f'<audio controls preload="none" src="/recordings/{call.pk}/audio"' in stored
    not_recorded = viewer.get(f"/reports/calls/{world.slow.pk}/").content.decode()
    assert "<audio" not in not_recorded and "not recorded" in not_recorded


def test_another_company_cannot_open_or_export_alphas_calls(world, tenants):
    with tenant_context(tenants.beta):
        beta_call = CallFactory(
            started_at=local(DAY, 9), from_number="+15550177777", outcome=Call.Outcome.FAILED
        )
        missing = max(c.pk for c in world.calls) + 1000
        alpha_only = next(c.pk for c in world.calls if not Call.objects.filter(pk=c.pk).exists())
    beta = logged_in(tenants.beta, make_user(tenants.beta, role=Role.CLIENT_ADMIN))
    assert beta.get(f"/reports/calls/{alpha_only}/").status_code == 404
    assert beta.get(f"/reports/calls/{missing}/").status_code == 404
    rows = parse_csv(beta.get("/reports/calls/export.csv"))
    assert {r["from"] for r in rows} == {"+15550177777"}
    assert ids(rows) == {beta_call.pk}
    book, _ = parse_xlsx(beta.get("/reports/calls/export.xlsx"))
    assert [r["from"] for r in book] == ["+15550177777"]
    with tenant_context(tenants.beta):
        stats.build_days(first=DAY, last=DAY)
    stats_rows = parse_csv(beta.get("/reports/statistics.csv", {"start": DAY, "end": DAY}))
    assert [(r["by"], r["name"], r["calls"]) for r in stats_rows] == [("Queue", "No queue", "1")]
    # alpha's own user cannot log in on beta's host at all
    alpha_user = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    refused = http(tenants.beta).post(
        "/login/", {"username": alpha_user.username, "password": "correct-horse-battery"}
    )
    assert refused.status_code == 200  # the login form again, with an error


def test_calls_export_csv_is_the_filtered_list_with_formulas_defused(world, viewer):
    response = viewer.get("/reports/calls/export.csv", {"start": DAY, "end": DAY, "queue": world.sales.pk})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="alpha-calls-2026-03-02-2026-03-02.csv"'
    rows = parse_csv(response)
    assert ids(rows) == {world.first.pk, world.slow.pk, world.early.pk}
    first = next(r for r in rows if int(r["id"]) == world.first.pk)
    assert first["contact"] == "'=SUM(1+1) @evil"  # would run as a formula in a spreadsheet
    assert first["from"] == "+15550100001"  # a plain number stays usable
    assert first["started (local)"] == "2026-03-02 10:00:00+01:00"
    assert first["operator"] == "Jane D." and first["outcome"] == "Handled by an operator"
    assert first["wait s"] == "10" and first["talk s"] == "120" and first["disposition"] == "sale"


def test_calls_export_xlsx_matches_the_records_and_keeps_formulas_as_text(world, viewer):
    response = viewer.get("/reports/calls/export.xlsx", {"outcome": "handled"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="alpha-calls-')
    rows, sheet = parse_xlsx(response)
    handled = [c for c in world.calls if c.outcome == Call.Outcome.HANDLED]
    assert ids(rows) == {c.pk for c in handled}
    for row in rows:
        call = next(c for c in handled if c.pk == row["id"])
        assert row["talk s"] == call.talk_seconds and (row["queue"] or "") == call.queue_name
        assert row["started (local)"] == call.started_at.astimezone(BERLIN).replace(tzinfo=None)
    cell = next(c for r in sheet.iter_rows(min_row=2) for c in r if c.value == "=SUM(1+1) @evil")
    assert cell.data_type == "s"  # text, never a formula


def test_statistics_export_holds_the_periods_rows(world, tenants, viewer):
    params = {"start": DAY.isoformat(), "end": (DAY + dt.timedelta(days=1)).isoformat()}
    response = viewer.get("/reports/statistics.csv", params)
    assert (
        response["Content-Disposition"] == 'attachment; filename="alpha-statistics-2026-03-02-2026-03-03.csv"'
    )
    rows = parse_csv(response)
    with tenant_context(tenants.alpha):
        stored = list(Statistic.objects.filter(granularity="day", day__in=[DAY, DAY + dt.timedelta(days=1)]))
    assert len(rows) == len(stored) == 7  # day 1: 3 queues + 2 operators; day 2: 1 queue + 1 operator
    sales = next(r for r in rows if r["day"] == "2026-03-02" and r["name"] == "Sales")
    assert (sales["offered"], sales["answered"], sales["service level %"]) == ("3", "3", "66.7")
    assert {r["name"] for r in rows if r["by"] == "Operator"} == {"Jane D.", "Bob S."}
    assert all(r["day"] != "2026-03-01" for r in rows)
    book, _ = parse_xlsx(viewer.get("/reports/statistics.xlsx", params))
    assert [(r["day"], r["by"], r["name"], r["offered"]) for r in book] == [
        (dt.datetime.fromisoformat(r["day"]), r["by"], r["name"], int(r["offered"])) for r in rows
    ]


@pytest.fixture
def invoices(db, tenants):
    with tenant_context(tenants.alpha):
        made = []
        for month, state in [(1, "issued"), (2, "paid"), (3, "draft")]:
            invoice = Invoice.objects.create(
                number=f"INV-2026-{month:02d}", period_start=dt.date(2026, month, 1),
                period_end=dt.date(2026, month, 28), currency="EUR", subtotal=Decimal("100.00"),
                tax_percent=Decimal("20.00"), tax=Decimal("20.00"), total=Decimal("120.00"), digest="x",
                built_at=timezone.now(), contract_reference="CC-2026-00001",
            )  # fmt: skip
            InvoiceLine.objects.create(
                invoice=invoice, position=1, service_code="inbound", kind="minutes",
                description="Inbound minutes",
                quantity=Decimal("400"), unit_price=Decimal("0.25"), amount=Decimal("100.00"), call_count=321,
            )  # fmt: skip
            if state != "draft":
                invoice = invoice_issue(invoice=invoice)
            if state == "paid":
                Invoice.objects.filter(pk=invoice.pk).update(state="paid", paid_at=timezone.now())
            made.append(invoice)
    return made


def test_invoices_list_and_detail_show_issued_ones_only(invoices, viewer):
    issued, paid, draft = invoices
    listing = viewer.get("/reports/invoices/")
    assert [i.number for i in listing.context["invoices"]] == ["INV-2026-02", "INV-2026-01"]
    assert "INV-2026-03" not in listing.content.decode()
    detail = viewer.get(f"/reports/invoices/{issued.pk}/").content.decode()
    assert "Inbound minutes" in detail and "120.00" in detail and "Issued" in detail and "321" in detail
    assert "Tax 20.00 % on 100.00" in detail and "400 min" in detail
    assert viewer.get(f"/reports/invoices/{draft.pk}/").status_code == 404
    assert viewer.get(f"/reports/invoices/{draft.pk}/pdf/").status_code == 404
    pdf = viewer.get(f"/reports/invoices/{paid.pk}/pdf/")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert pdf.content == bytes(paid.pdf)  # the bytes issued, not a new rendering


def test_invoice_exports_list_the_client_invoices(invoices, tenants, viewer):
    rows = parse_csv(viewer.get("/reports/invoices/export.csv"))
    assert [(r["number"], r["state"], r["total"]) for r in rows] == [
        ("INV-2026-02", "Paid", "120.00"), ("INV-2026-01", "Issued", "120.00"),
    ]  # fmt: skip
    book, _ = parse_xlsx(viewer.get("/reports/invoices/export.xlsx"))
    assert [(r["number"], r["total"]) for r in book] == [("INV-2026-02", 120), ("INV-2026-01", 120)]
    beta = logged_in(tenants.beta, make_user(tenants.beta, role=Role.CLIENT_VIEWER))
    assert parse_csv(beta.get("/reports/invoices/export.csv")) == []
    with tenant_context(tenants.beta):
        assert not Invoice.objects.filter(pk=invoices[0].pk).exists()
    assert beta.get(f"/reports/invoices/{invoices[0].pk}/").status_code == 404
    assert beta.get(f"/reports/invoices/{invoices[0].pk}/pdf/").status_code == 404


def queries(client, path: str, params: dict | None = None) -> int:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(path, params or {}).status_code == 200
    return len(captured)


def test_list_pages_cost_the_same_queries_whatever_the_number_of_rows(world, tenants, viewer):
    few = queries(viewer, "/reports/calls/")
    dashboard = queries(viewer, "/reports/", {"start": DAY - dt.timedelta(days=1), "end": DAY})
    with tenant_context(tenants.alpha):
        contact = Contact.objects.create(phone="+15550100999", first_name="Many")
        for i in range(30):
            CallFactory(
                started_at=local(DAY, 15, i), contact=contact, operator_name=f"Op {i}", disposition="sale",
                outcome=Call.Outcome.HANDLED,
            )  # fmt: skip
    assert queries(viewer, "/reports/calls/") == few <= 12
    assert queries(viewer, "/reports/", {"start": DAY - dt.timedelta(days=30), "end": DAY}) == dashboard <= 14
    assert "Sale made" in viewer.get("/reports/calls/").content.decode()  # the disposition's label


def test_a_spreadsheet_of_too_many_calls_is_refused_with_a_message(world, viewer, monkeypatch):
    from reporting import exports

    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 3)
    response = viewer.get("/reports/calls/export.xlsx")
    assert response.status_code == 400
    assert "More than 3 calls for one spreadsheet" in response.content.decode()
    assert viewer.get("/reports/calls/export.xlsx", {"outcome": "abandoned"}).status_code == 200


def test_csv_is_streamed_chunk_by_chunk(world, tenants, viewer):
    """The export is a stream of chunks of rows, made as the server sends them (config.asgi runs
    Django's WSGI handler, which hands the web server each chunk as it comes)."""
    from reporting import exports

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(exports, "CHUNK_ROWS", 2)  # several chunks from a few rows
        response = viewer.get("/reports/calls/export.csv", {"start": DAY, "end": DAY})
        assert response.streaming
        received = list(response.streaming_content)
    assert len(received) >= 3
    rows = list(csv.DictReader(io.StringIO(b"".join(received).decode("utf-8-sig"))))
    assert ids(rows) == {c.pk for c in world.on(DAY)}


def test_the_calls_export_refuses_bad_filters_and_big_spreadsheets_word_for_word(world, viewer, monkeypatch):
    """Pinned while the call list and the recording access log share one export writer."""
    from reporting import exports

    bad = viewer.get("/reports/calls/export.xlsx", {"start": "2026-03-05", "end": "2026-03-01"})
    assert (bad.status_code, bad["Content-Type"]) == (400, "text/plain; charset=utf-8")
    assert bad.content.decode() == "Check the filters: end: The first day must not be after the last day."
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 3)
    many = viewer.get("/reports/calls/export.xlsx")
    assert (many.status_code, many.content.decode()) == (
        400, "More than 3 calls for one spreadsheet: narrow the filters, or download CSV."
    )  # fmt: skip
    book = viewer.get("/reports/calls/export.xlsx", {"outcome": "abandoned", "start": DAY})
    assert book["Content-Disposition"] == f'attachment; filename="alpha-calls-{DAY.isoformat()}.xlsx"'
    assert load_workbook(io.BytesIO(b"".join(book.streaming_content))).active.title == "Calls"
    today = viewer.get("/reports/calls/export.csv", {"outcome": "abandoned"})
    assert today["Content-Disposition"].startswith('attachment; filename="alpha-calls-20')
    assert b"".join(today.streaming_content).decode("utf-8").startswith("\ufeffid,")


def test_the_portal_exports_share_one_writer(world, tenants, viewer, monkeypatch):
    """The call list's and the recording access log's exports: one machinery for formats, filters,
    the period and the spreadsheet limit (``reporting.exports.filtered_export``)."""
    from django.http import HttpResponse

    from reporting import exports

    used = []
    monkeypatch.setattr(
        exports, "filtered_export", lambda request, fmt, **kw: used.append(kw["title"]) or HttpResponse("x")
    )
    assert viewer.get("/reports/calls/export.csv").content == b"x"
    assert viewer.get("/recordings/access-log/export.xlsx").content == b"x"
    assert used == ["Calls", "Recording access"]
