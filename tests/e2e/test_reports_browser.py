"""A client's reporting pages in a real browser: the dashboard's charts, a filtered call list, and the
CSV and XLSX files it downloads."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import random
import re
import zoneinfo
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context
from openpyxl import load_workbook

from accounts.models import Role
from reporting import stats
from telephony.calls.models import Call, TelephonySettings
from telephony.models import Queue
from tenants.clients import client_create
from tenants.models import Client
from tests.conftest import PASSWORD, make_user
from tests.factories import CallFactory

pytestmark = pytest.mark.browser
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = os.environ.get("SCREENSHOT_DIR", "/tmp")
ZONE = zoneinfo.ZoneInfo("America/New_York")
FROM, TO = re.compile(r"^From\b"), re.compile(r"^To\b")  # a required field's label ends in " *"
DAYS = [dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 4)]


def _call(company_queue: Queue, day: dt.date, hour: int, *, answered: bool, caller: str) -> Call:
    at = dt.datetime.combine(day, dt.time(hour), tzinfo=ZONE)
    fields = (
        {"answered": True, "wait": 8, "answered_at": at, "operator_id": 77, "operator_name": "Olga Petrova"}
        if answered
        else {"abandoned": True, "wait": 45}
    )
    return CallFactory(
        from_number=caller, started_at=at, queue_id=company_queue.pk, queue_name=company_queue.name,
        outcome_at=at + dt.timedelta(minutes=2), **fields,
    )  # fmt: skip


def _company_with_three_days_of_calls() -> tuple[Client, list[Call]]:
    """A company of its own (no other test's calls in its figures), in New York time."""
    slug = f"rep-{random.randrange(10**8)}"
    company = client_create(slug=slug, name=f"Reports {slug}", status=Client.Status.ACTIVE)
    queue = Queue.objects.create(tenant=company, is_default=True, name="Sales")
    plan = {DAYS[0]: [True, True, False], DAYS[1]: [True], DAYS[2]: [False, True]}
    with tenant_context(company):
        TelephonySettings.objects.update_or_create(pk=1, defaults={"timezone": "America/New_York"})
        calls = [
            _call(queue, day, 9 + i, answered=answered, caller=f"+1555010{i}{n:03d}")
            for n, (day, outcomes) in enumerate(plan.items())
            for i, answered in enumerate(outcomes)
        ]
        stats.build_days(first=DAYS[0], last=DAYS[-1])
    return company, calls


def _rows_of_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def test_client_reads_the_dashboard_charts_and_downloads_the_filtered_calls(
    committed, tenants, asgi_server, page
):
    company, calls = _company_with_three_days_of_calls()
    viewer = make_user(company, role=Role.CLIENT_VIEWER, first_name="Vera", last_name="Lane")
    page.goto(asgi_server.url(company, "/login/?next=/reports/"))
    page.get_by_label("Username").fill(viewer.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Reports").wait_for()

    page.get_by_label(FROM).fill(DAYS[0].isoformat())
    page.get_by_label(TO).fill(DAYS[-1].isoformat())
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/reports/?start=2026-03-02&end=2026-03-04")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('chart-volume'))")
    volume = page.evaluate(
        """() => { const c = Chart.getChart(document.getElementById('chart-volume'));
                   return {labels: c.data.labels, sets: c.data.datasets.map(d => [d.label, d.data])}; }"""
    )
    assert volume["labels"] == ["Mon 02 Mar", "Tue 03 Mar", "Wed 04 Mar"]
    assert volume["sets"] == [["Offered", [3, 1, 2]], ["Answered", [2, 1, 1]], ["Abandoned", [1, 0, 1]]]
    service_level = page.evaluate(
        "() => Chart.getChart(document.getElementById('chart-sl')).data.datasets.map(d => d.data)"
    )
    assert service_level == [[66.7, 100, 50], [80, 80, 80]]  # per day, and the default target
    assert page.locator("#by-operator tbody th").all_inner_texts() == ["Olga P."]
    page.screenshot(path=f"{SHOTS}/reports-dashboard.png", full_page=True)

    page.get_by_role("navigation", name="Reports").get_by_role("link", name="Calls").click()
    page.get_by_label("Outcome").select_option("abandoned")
    page.get_by_label(FROM).fill(DAYS[0].isoformat())
    page.get_by_label(TO).fill(DAYS[0].isoformat())
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**outcome=abandoned**")
    abandoned = [
        c
        for c in calls
        if c.outcome == Call.Outcome.ABANDONED and c.started_at.astimezone(ZONE).date() == DAYS[0]
    ]
    assert page.locator("#calls tbody tr").count() == len(abandoned) == 1
    page.screenshot(path=f"{SHOTS}/reports-calls.png", full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename == f"{company.slug}-calls-2026-03-02-2026-03-02.csv"
    rows = _rows_of_csv(Path(download.value.path()))
    assert [(int(r["id"]), r["from"], r["outcome"], r["wait s"]) for r in rows] == [
        (abandoned[0].pk, abandoned[0].from_number, "Abandoned", "45")
    ]

    with page.expect_download() as download:
        page.get_by_role("link", name="Download XLSX").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).worksheets[0]
    values = list(sheet.values)
    assert values[0][:3] == ("id", "started (local)", "direction")
    assert [(r[0], r[1], r[8]) for r in values[1:]] == [
        (abandoned[0].pk, abandoned[0].started_at.astimezone(ZONE).replace(tzinfo=None), "Abandoned")
    ]

    page.locator("#calls tbody a").first.click()
    page.get_by_role("heading", name="What happened").wait_for()
    assert page.locator("#outcome").inner_text() == "Abandoned"
    page.screenshot(path=f"{SHOTS}/reports-call.png", full_page=True)
