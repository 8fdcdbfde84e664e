"""Back office: platform-wide figures, staffing by Erlang C, client invoices (permissions, isolation)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.test import Client as HttpClient
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Role
from reporting import kpis, platform, staffing, stats
from reporting.models import CreditNote, Invoice
from telephony.calls.models import Call
from tenants.models import AuditEvent
from tests.conftest import http, logged_in, make_user
from tests.factories import CallFactory
from tests.reporting.factories import contract_in_force, facts, tariff
from tests.telephony.helpers import CERTIFIED_UNTIL

DAY = dt.date(2026, 3, 2)


def at(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)


def answered(start: dt.datetime, wait: int, talk: int, **kw) -> Call:
    return CallFactory(
        started_at=start,
        queued_at=start,
        answered_at=start + dt.timedelta(seconds=wait),
        wait_seconds=wait,
        talk_seconds=talk,
        wrapup_seconds=10,
        outcome=Call.Outcome.HANDLED,
        **kw,
    )


def abandoned(start: dt.datetime, wait: int) -> Call:
    return CallFactory(started_at=start, abandoned=True, wait=wait)


def build(day: dt.date) -> None:
    stats.build_days(first=day, last=day)


@pytest.fixture
def two_tenants_calls(db, tenants):
    """Hand-built calls of one day in alpha and beta, with their statistics built."""
    with tenant_context(tenants.alpha):
        alpha = [
            answered(at(9), 5, 100),
            answered(at(9, 20), 15, 200),
            answered(at(14), 30, 300),
            abandoned(at(10), 3),  # a short abandon
            abandoned(at(11), 40),
            CallFactory(started_at=at(12), ivr_contained=True),  # never offered
        ]
        build(DAY)
    with tenant_context(tenants.beta):
        beta = [answered(at(9), 10, 60), answered(at(9, 5), 25, 60), abandoned(at(9, 10), 50)]
        build(DAY)
    return {"alpha": alpha, "beta": beta}


def expected(calls: list[Call]) -> kpis.Totals:
    return kpis.totals([facts(c) for c in calls])


def table_rows(html: str, table_id: str) -> dict[str, list[str]]:
    """``{data-client: [cell texts]}`` of one table of the page."""
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S).group(1)
    rows = {}
    for key, row in re.findall(r'<tr data-client="([^"]+)">(.*?)</tr>', table, re.S):
        rows[key] = [
            re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        ]
    return rows


def test_platform_figures_match_the_definitions_and_the_total_is_the_sum(two_tenants_calls, tenants):
    rows, total = platform.unscoped_figures(first=DAY, last=DAY, clients=[tenants.alpha, tenants.beta])
    by_slug = {r.client.slug: r for r in rows}
    for slug in ("alpha", "beta"):
        want = expected(two_tenants_calls[slug])
        got = by_slug[slug].totals
        for name in kpis.METRICS:
            assert getattr(got, name) == getattr(want, name), (slug, name)
        assert by_slug[slug].rates == kpis.rates(want)
    both = expected(two_tenants_calls["alpha"] + two_tenants_calls["beta"])
    assert total.totals.offered == 8 and total.totals.answered == 5 and total.totals.abandoned == 3
    assert total.rates == kpis.rates(both)
    # alpha: SL 2 within 20 s / (5 offered - 1 short) = 50 %; abandon rate (2 - 1) / 4 = 25 %
    assert by_slug["alpha"].rates["service_level"] == 0.5 and by_slug["alpha"].rates["abandon_rate"] == 0.25
    assert by_slug["alpha"].rates["aht_seconds"] == (100 + 200 + 300 + 30) / 3


def test_the_figures_of_every_tenant_cost_one_query(two_tenants_calls, tenants, django_assert_num_queries):
    clients = platform.reporting_clients()
    with django_assert_num_queries(1):
        rows, _ = platform.unscoped_figures(first=DAY, last=DAY, clients=clients)
    assert len(rows) == len(clients) >= 2


def test_the_figures_page_shows_each_tenant_and_the_total(two_tenants_calls, tenants):
    supervisor = logged_in(None, make_user(None, role=Role.SUPERVISOR))
    response = supervisor.get("/backoffice/reports/", {"start": DAY.isoformat(), "end": DAY.isoformat()})
    assert response.status_code == 200
    rows = table_rows(response.content.decode(), "figures-period")
    assert rows["alpha"][:9] == ["Alpha Ltd", "5", "3", "2", "1", "50.0 %", "17 s", "210 s", "25.0 %"]
    assert rows["beta"][:9] == ["Beta GmbH", "3", "2", "1", "0", "33.3 %", "18 s", "70 s", "33.3 %"]
    tenants_rows = [r for key, r in rows.items() if key != "total"]
    for column in range(1, 5):  # offered, answered, abandoned, short abandons
        assert int(rows["total"][column]) == sum(int(r[column]) for r in tenants_rows)
    # the total's rates are those of the summed counts: (2 + 1) within / (8 - 1) = 42.9 %
    assert rows["total"][5] == "42.9 %"  # other companies have no calls that day: zeros
    other_day = supervisor.get("/backoffice/reports/", {"start": "2026-03-03", "end": "2026-03-03"})
    assert table_rows(other_day.content.decode(), "figures-period")["alpha"][1] == "0"


def test_a_period_is_summed_over_its_days(db, tenants):
    with tenant_context(tenants.alpha):
        answered(at(9), 5, 100)
        answered(at(9, day=DAY + dt.timedelta(days=1)), 5, 100)
        answered(at(9, day=DAY + dt.timedelta(days=2)), 5, 100)
        stats.build_days(first=DAY, last=DAY + dt.timedelta(days=2))
    rows, _ = platform.unscoped_figures(first=DAY, last=DAY + dt.timedelta(days=1), clients=[tenants.alpha])
    assert rows[0].totals.offered == 2


def test_a_bad_period_is_a_400_with_a_message(db, tenants):
    supervisor = logged_in(None, make_user(None, role=Role.SUPERVISOR))
    response = supervisor.get("/backoffice/reports/", {"start": "2026-03-05", "end": "2026-03-01"})
    assert response.status_code == 400
    assert "The first day must not be after the last day." in response.content.decode()
    assert supervisor.get("/backoffice/reports/", {"start": "nope", "end": "2026-03-01"}).status_code == 400
    assert (
        supervisor.get("/backoffice/reports/", {"start": "2020-01-01", "end": "2026-03-01"}).status_code
        == 400
    )


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_days_at_the_ends_of_the_calendar_are_400s(db, tenants, day):
    admin = logged_in(None, make_user(None, role=Role.PLATFORM_ADMIN))
    assert admin.get("/backoffice/reports/", {"start": day, "end": day}).status_code == 400
    assert admin.get("/backoffice/reports/staffing/", {"day": day}).status_code == 400


# Staffing


def test_the_day_standing_for_a_future_day_is_the_same_weekday_before_today():
    today = dt.date(2026, 11, 23)  # a Monday
    assert platform.source_day(dt.date(2026, 11, 20), today) == (dt.date(2026, 11, 20), False)
    assert platform.source_day(today, today) == (dt.date(2026, 11, 16), True)
    assert platform.source_day(dt.date(2026, 11, 26), today) == (dt.date(2026, 11, 19), True)
    assert platform.source_day(dt.date(2026, 12, 7), today) == (dt.date(2026, 11, 16), True)
    for day in [today + dt.timedelta(days=n) for n in range(30)]:
        source, _ = platform.source_day(day, today)
        assert (
            source < today
            and source.weekday() == day.weekday()
            and (day - source).days <= 7 + (day - today).days
        )


@pytest.fixture
def operator_in_alpha(db, tenants):
    """An operator skilled on alpha's queue, logged in from 09:50 to 10:07:30 on DAY, and available now."""
    from telephony.models import Queue
    from telephony.routing_models import OperatorEvent, OperatorProfile, Skill

    user = make_user(None, role=Role.OPERATOR)
    now = timezone.now()
    profile = OperatorProfile.objects.create(user=user, state="available", state_since=now, idle_since=now)
    queue = Queue.objects.create(tenant=tenants.alpha, name="Staffing test")
    Skill.objects.create(operator=profile, queue=queue, certified_until=CERTIFIED_UNTIL)
    OperatorEvent.objects.create(operator=profile, at=at(9, 50), kind="state", state="available")
    OperatorEvent.objects.create(
        operator=profile, at=at(10, 7) + dt.timedelta(seconds=30), kind="state", state="offline"
    )
    OperatorEvent.objects.create(
        operator=profile, at=now - dt.timedelta(minutes=1), kind="state", state="available"
    )
    return profile


def test_staffing_needs_erlang_c_operators_against_those_logged_in(db, tenants, operator_in_alpha):
    with tenant_context(tenants.alpha):
        for n in range(30):  # 30 calls in 10:00-10:15, 180 s handling each
            answered(at(10) + dt.timedelta(seconds=n * 20), 10, 170)
        build(DAY)
    with tenant_context(tenants.beta):
        for n in range(12):
            answered(at(10) + dt.timedelta(seconds=n * 30), 10, 110)
        build(DAY)
    want = staffing.agents_needed(
        calls=30, interval_seconds=900, aht_seconds=180, target_sl=0.8, threshold_seconds=20
    )
    result = platform.unscoped_staffing(client=tenants.alpha, day=DAY, now=timezone.now())
    ten = next(i for i in result.intervals if i.start == at(10))
    assert (ten.offered, ten.aht_seconds, ten.needed) == (30, 180, want.agents)
    assert ten.expected_sl == pytest.approx(want.service_level) and ten.expected_sl >= 0.8
    assert ten.expected_asa_seconds == pytest.approx(want.asa_seconds)
    assert ten.logged_in == pytest.approx(0.5)  # 7.5 of 15 minutes
    assert next(i for i in result.intervals if i.start == at(9, 45)).logged_in == pytest.approx(2 / 3)
    assert next(i for i in result.intervals if i.start == at(10, 15)).logged_in == 0
    assert result.logged_in_now >= 1 and result.available_now >= 1 and not result.forecast
    beta = platform.unscoped_staffing(client=tenants.beta, day=DAY, now=timezone.now())
    beta_ten = next(i for i in beta.intervals if i.start == at(10))
    assert beta_ten.offered == 12 and beta_ten.logged_in == 0  # alpha's operator is not beta's
    pool = platform.unscoped_staffing(client=None, day=DAY, now=timezone.now())
    pool_ten = next(i for i in pool.intervals if i.start == at(10))
    assert pool_ten.offered == 42 and pool_ten.aht_seconds == (30 * 180 + 12 * 120) / 42
    assert (
        pool_ten.needed
        == staffing.agents_needed(
            calls=42,
            interval_seconds=900,
            aht_seconds=pool_ten.aht_seconds,
            target_sl=0.8,
            threshold_seconds=20,
        ).agents
    )


def test_staffing_for_today_is_forecast_from_last_week(db, tenants):
    today = timezone.now().date()
    last_week = today - dt.timedelta(days=7)
    with tenant_context(tenants.alpha):
        for n in range(10):
            answered(at(10, day=last_week) + dt.timedelta(seconds=n), 5, 110)
        build(last_week)
    result = platform.unscoped_staffing(client=tenants.alpha, day=today, now=timezone.now())
    assert result.forecast and result.source_day == last_week
    assert next(i for i in result.intervals if i.start == at(10, day=today)).offered == 10


def test_the_contracts_target_is_used_unless_one_is_chosen(db, tenants):
    contract_in_force(tenants.alpha, tariffs=[tariff("inbound", "Inbound")], sl_percent=90, sl_seconds=15)
    assert stats.contract_target(tenants.alpha) == (90, 15)
    result = platform.unscoped_staffing(client=tenants.alpha, day=DAY, now=timezone.now())
    assert (result.target_sl_percent, result.threshold_seconds) == (90, 15)
    chosen = platform.unscoped_staffing(
        client=tenants.alpha, day=DAY, now=timezone.now(), target_sl_percent=70, threshold_seconds=30
    )
    assert (chosen.target_sl_percent, chosen.threshold_seconds) == (70, 30)


def test_the_staffing_page_shows_the_interval(db, tenants, operator_in_alpha):
    with tenant_context(tenants.alpha):
        for n in range(30):
            answered(at(10) + dt.timedelta(seconds=n * 20), 10, 170)
        build(DAY)
    want = staffing.agents_needed(
        calls=30, interval_seconds=900, aht_seconds=180, target_sl=0.8, threshold_seconds=20
    )
    supervisor = logged_in(None, make_user(None, role=Role.SUPERVISOR))
    response = supervisor.get(
        "/backoffice/reports/staffing/", {"client": tenants.alpha.pk, "day": DAY.isoformat()}
    )
    assert response.status_code == 200
    row = re.search(r'<tr data-start="10:00">(.*?)</tr>', response.content.decode(), re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
    assert cells[:4] == ["10:00", "30", "180 s", str(want.agents)] and cells[6] == "0.5"
    assert supervisor.get("/backoffice/reports/staffing/").status_code == 200  # today, whole pool
    bad = supervisor.get("/backoffice/reports/staffing/", {"day": "soon", "sl_percent": "120"})
    assert bad.status_code == 400 and "Enter a valid date." in bad.content.decode()


def test_staffing_shows_erlang_a_with_the_patience_of_the_days_own_callers(db, tenants, operator_in_alpha):
    with tenant_context(tenants.alpha):
        for n in range(30):
            answered(at(10) + dt.timedelta(seconds=n * 20), 10, 170)
        for n in range(5):  # hung up after a minute in the queue
            start = at(10, 5) + dt.timedelta(seconds=n)
            CallFactory(started_at=start, queued_at=start, wait_seconds=60, outcome=Call.Outcome.ABANDONED)
        build(DAY)
    result = platform.unscoped_staffing(client=tenants.alpha, day=DAY, now=timezone.now())
    assert result.patience_seconds == pytest.approx((30 * 10 + 5 * 60) / 5)  # all waiting per abandon
    ten = next(i for i in result.intervals if i.start == at(10))
    want = staffing.agents_needed_with_abandonment(
        calls=35,
        interval_seconds=900,
        aht_seconds=180,
        patience_seconds=120,
        target_sl=0.8,
        threshold_seconds=20,
    )
    assert (ten.offered, ten.needed_erlang_a) == (35, want.agents) and want.agents <= ten.needed
    assert ten.expected_sl_erlang_a == pytest.approx(want.service_level) and ten.expected_sl_erlang_a >= 0.8
    assert ten.expected_abandon_erlang_a == pytest.approx(want.probability_of_abandoning)
    assert (
        platform.unscoped_staffing(client=tenants.beta, day=DAY, now=timezone.now()).patience_seconds is None
    )
    supervisor = logged_in(None, make_user(None, role=Role.SUPERVISOR))
    page = supervisor.get(
        "/backoffice/reports/staffing/", {"client": tenants.alpha.pk, "day": DAY.isoformat()}
    )
    html = page.content.decode()
    assert '<span id="patience">120</span>' in html
    row = re.search(r'<tr data-start="10:00">(.*?)</tr>', html, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
    assert cells[7] == str(want.agents)


# Permissions


@pytest.mark.parametrize(
    "path", ["/backoffice/reports/", "/backoffice/reports/staffing/", "/backoffice/reports/invoices/"]
)
def test_operators_get_403_and_strangers_the_login_page(db, tenants, path):
    operator = logged_in(None, make_user(None, role=Role.OPERATOR))
    assert operator.get(path).status_code == 403
    response = http(None).get(path)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_client_users_cannot_reach_the_back_office(db, tenants):
    admin = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_ADMIN))
    assert admin.get("/backoffice/reports/").status_code == 404  # not a page of the tenant host
    # the session of a tenant host is not one of the platform host
    platform_client = http(None)
    platform_client.cookies = admin.cookies
    assert platform_client.get("/backoffice/reports/").status_code == 302


def test_supervisors_see_figures_but_not_invoices(db, tenants):
    supervisor = logged_in(None, make_user(None, role=Role.SUPERVISOR))
    assert supervisor.get("/backoffice/reports/").status_code == 200
    assert supervisor.get("/backoffice/reports/invoices/").status_code == 403
    assert supervisor.get(f"/backoffice/reports/invoices/{tenants.alpha.pk}/").status_code == 403
    assert (
        supervisor.post(
            f"/backoffice/reports/invoices/{tenants.alpha.pk}/build/", {"month": "2026-03"}
        ).status_code
        == 403
    )


# Invoices


@pytest.fixture
def manager(db, tenants) -> HttpClient:
    return logged_in(None, make_user(None, role=Role.ACCOUNT_MANAGER, first_name="Ann", last_name="Manager"))


@pytest.fixture
def alpha_billing(db, tenants):
    contract_in_force(
        tenants.alpha,
        tariffs=[tariff("inbound", "Inbound hotline", fee="100.00", minute="0.5000")],
        tax_percent="20",
    )
    with tenant_context(tenants.alpha):
        answered(at(9), 5, 120)  # 2 minutes
        answered(at(10), 5, 60)  # 1 minute


def invoice_of(tenant, **filters) -> Invoice:
    with tenant_context(tenant):
        return Invoice.objects.get(**filters)


def test_an_account_manager_builds_issues_records_payment_and_credits(manager, tenants, alpha_billing):
    base = f"/backoffice/reports/invoices/{tenants.alpha.pk}"
    response = manager.post(f"{base}/build/", {"month": "2026-03"})
    assert response.status_code == 302
    invoice = invoice_of(tenants.alpha, period_start=dt.date(2026, 3, 1))
    assert (invoice.state, invoice.subtotal, invoice.total) == ("draft", Decimal("101.50"), Decimal("121.80"))
    assert response["Location"] == f"{base}/{invoice.pk}/"
    assert invoice.number in manager.get(f"{base}/").content.decode()
    page = manager.get(f"{base}/{invoice.pk}/").content.decode()
    assert "121.80 EUR" in page and "Issue invoice" in page
    draft_pdf = manager.get(f"{base}/{invoice.pk}/pdf/")
    assert draft_pdf.status_code == 200 and draft_pdf.content.startswith(b"%PDF")
    assert manager.post(f"{base}/build/", {"month": "2026-03"}).status_code == 302  # a rebuild: same invoice
    assert invoice_of(tenants.alpha, pk=invoice.pk).digest == invoice.digest

    assert manager.post(f"{base}/{invoice.pk}/issue/").status_code == 302
    issued = invoice_of(tenants.alpha, pk=invoice.pk)
    assert issued.state == "issued" and issued.pdf_sha256
    pdf = manager.get(f"{base}/{invoice.pk}/pdf/")
    assert (
        bytes(issued.pdf) == pdf.content
        and 'filename="' + issued.number + '.pdf"' in pdf["Content-Disposition"]
    )
    rebuild = manager.post(f"{base}/build/", {"month": "2026-03"})
    assert rebuild.status_code == 400 and "was issued" in rebuild.content.decode()

    paid_on = issued.issued_at.date()  # a payment can't predate the invoice
    paid = manager.post(
        f"{base}/{invoice.pk}/paid/",
        {"paid_on": paid_on.isoformat(), "reference": "BANK-42", "amount": "121.80", "currency": "EUR"},
    )
    assert paid.status_code == 302
    issued = invoice_of(tenants.alpha, pk=invoice.pk)
    assert (issued.state, issued.payment_reference, issued.paid_at.date()) == (
        "paid",
        "BANK-42",
        paid_on,
    )

    credit = manager.post(f"{base}/{invoice.pk}/credit/", {"amount": "10.00", "reason": "Outage on 3 March"})
    assert credit.status_code == 302
    with tenant_context(tenants.alpha):
        note = CreditNote.objects.get(invoice_id=invoice.pk)
    assert (note.subtotal, note.tax, note.total, note.created_by_name) == (
        Decimal("10.00"),
        Decimal("2.00"),
        Decimal("12.00"),
        "Ann Manager",
    )
    actions = set(
        AuditEvent.objects.filter(
            client=tenants.alpha, object_type__in=["invoice", "creditnote"]
        ).values_list("action", flat=True)
    )
    assert actions == {
        "invoice.drafted",
        "invoice.rebuilt",
        "invoice.issued",
        "invoice.paid",
        "invoice.credited",
    }
    paid_event = AuditEvent.objects.get(client=tenants.alpha, action="invoice.paid")
    assert paid_event.after["reference"] == "BANK-42" and paid_event.actor_schema == "public"


def test_bad_invoice_actions_are_400s_with_a_message_and_change_nothing(manager, tenants, alpha_billing):
    base = f"/backoffice/reports/invoices/{tenants.alpha.pk}"
    bad_month = manager.post(f"{base}/build/", {"month": "2026-13"})
    assert bad_month.status_code == 400 and "Enter a month as YYYY-MM." in bad_month.content.decode()
    manager.post(f"{base}/build/", {"month": "2026-03"})
    invoice = invoice_of(tenants.alpha, period_start=dt.date(2026, 3, 1))
    pay = {"amount": "1.00", "currency": "EUR"}
    not_issued = manager.post(
        f"{base}/{invoice.pk}/paid/", {"paid_on": "2026-11-23", "reference": "X", **pay}
    )
    assert (
        not_issued.status_code == 400 and "Only an issued invoice can be paid." in not_issued.content.decode()
    )
    draft_credit = manager.post(f"{base}/{invoice.pk}/credit/", {"amount": "1.00", "reason": "x"})
    assert draft_credit.status_code == 400 and "rebuilding it" in draft_credit.content.decode()
    manager.post(f"{base}/{invoice.pk}/issue/")
    again = manager.post(f"{base}/{invoice.pk}/issue/")
    assert again.status_code == 400 and "already issued" in again.content.decode()
    too_much = manager.post(f"{base}/{invoice.pk}/credit/", {"amount": "500.00", "reason": "x"})
    assert too_much.status_code == 400 and "at most what was invoiced" in too_much.content.decode()
    assert manager.post(f"{base}/{invoice.pk}/credit/", {"amount": "abc", "reason": "x"}).status_code == 400
    early = manager.post(f"{base}/{invoice.pk}/paid/", {"paid_on": "2020-01-01", "reference": "X", **pay})
    assert early.status_code == 400 and "before it was issued" in early.content.decode()
    assert manager.post(f"{base}/{invoice.pk}/paid/", {"paid_on": "", "reference": ""}).status_code == 400
    assert invoice_of(tenants.alpha, pk=invoice.pk).state == "issued"
    with tenant_context(tenants.alpha):
        assert not CreditNote.objects.exists()
    assert not AuditEvent.objects.filter(
        client=tenants.alpha, action__in=["invoice.paid", "invoice.credited"]
    ).exists()
    no_contract = manager.post(f"/backoffice/reports/invoices/{tenants.beta.pk}/build/", {"month": "2026-03"})
    assert no_contract.status_code == 400 and "No contract in force" in no_contract.content.decode()


@pytest.mark.parametrize("month", ["9999-12", "0001-01"])
def test_a_month_at_the_ends_of_the_calendar_is_a_400_and_builds_nothing(
    manager, tenants, alpha_billing, month
):
    response = manager.post(f"/backoffice/reports/invoices/{tenants.alpha.pk}/build/", {"month": month})
    assert (
        response.status_code == 400 and "Choose a month from 0001-02 to 9999-11." in response.content.decode()
    )
    with tenant_context(tenants.alpha):
        assert not Invoice.objects.exists()
    assert not AuditEvent.objects.filter(client=tenants.alpha, action="invoice.drafted").exists()


def test_invoice_actions_are_post_only_and_need_the_csrf_token(manager, tenants, alpha_billing):
    base = f"/backoffice/reports/invoices/{tenants.alpha.pk}"
    manager.post(f"{base}/build/", {"month": "2026-03"})
    invoice = invoice_of(tenants.alpha, period_start=dt.date(2026, 3, 1))
    for action in ["issue", "paid", "credit"]:
        assert manager.get(f"{base}/{invoice.pk}/{action}/").status_code == 405
    assert manager.get(f"{base}/build/").status_code == 405
    strict = HttpClient(HTTP_HOST=http(None).defaults["HTTP_HOST"], enforce_csrf_checks=True)
    strict.cookies = manager.cookies
    assert strict.post(f"{base}/{invoice.pk}/issue/").status_code == 403
    assert invoice_of(tenants.alpha, pk=invoice.pk).state == "draft"


def test_an_invoice_is_reached_only_under_its_own_client_company(manager, tenants, alpha_billing):
    manager.post(f"/backoffice/reports/invoices/{tenants.alpha.pk}/build/", {"month": "2026-03"})
    invoice = invoice_of(tenants.alpha, period_start=dt.date(2026, 3, 1))
    beta = f"/backoffice/reports/invoices/{tenants.beta.pk}"
    listing = manager.get(f"{beta}/").content.decode()
    assert invoice.number not in re.search(r'<table id="invoices">(.*?)</table>', listing, re.S).group(1)
    for path in [f"{beta}/{invoice.pk}/", f"{beta}/{invoice.pk}/pdf/"]:
        assert manager.get(path).status_code == 404
    assert manager.post(f"{beta}/{invoice.pk}/issue/").status_code == 404
    assert invoice_of(tenants.alpha, pk=invoice.pk).state == "draft"
    assert manager.get("/backoffice/reports/invoices/999999/").status_code == 404
