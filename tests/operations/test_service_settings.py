"""The portal's service settings: a client admin changes hours, holidays, greeting, after-hours
behaviour and the specialists' directory; each change applies from the next call, is validated
and audited, and the account manager reads it on the company's page."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import icalendar
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from accounts.models import Role
from scripts_engine.models import Specialist
from telephony.calls import flows, hours
from telephony.calls.company import call_setup
from telephony.calls.models import Call, TelephonySettings
from tenants.models import AuditEvent
from tests.conftest import http, logged_in, make_user

WEEK = {f"day_{n}": "" for n in range(7)}


def _form(**fields: object) -> dict[str, object]:
    data = {
        "greeting": "Hello from Alpha.",
        "after_hours_message": "We are closed.",
        "after_hours": "callback",
    }
    return {**data, **WEEK, **fields}


@pytest.fixture
def admin(db, tenants):
    return make_user(tenants.alpha, role=Role.CLIENT_ADMIN, first_name="Ada", last_name="Admin")


def test_an_admin_changes_hours_holidays_and_greeting_and_the_next_call_uses_them(db, tenants, admin):
    client = logged_in(tenants.alpha, admin)
    with tenant_context(tenants.alpha):
        call_setup()  # cached before the change: the save must drop it
    response = client.post(
        "/service/",
        _form(day_0="09:00-12:30, 13:30-18:00", day_5="10:00-14:00", holidays="2026-12-25\n2026-12-24"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_context(tenants.alpha):
        settings = call_setup().settings
        assert settings.greeting == "Hello from Alpha." and settings.after_hours == "callback"
        assert settings.business_hours == {
            "0": [["09:00", "12:30"], ["13:30", "18:00"]],
            "5": [["10:00", "14:00"]],
        }
        assert settings.holidays == ["2026-12-24", "2026-12-25"]
        zone = zoneinfo.ZoneInfo(settings.timezone)
        monday = dt.datetime(2026, 12, 7, 10, 0, tzinfo=zone)
        assert hours.is_open(settings, monday)
        assert not hours.is_open(settings, monday.replace(hour=13))  # lunch
        assert not hours.is_open(settings, dt.datetime(2026, 12, 8, 10, 0, tzinfo=zone))  # Tuesday: closed
    event = AuditEvent.objects.get(client=tenants.alpha, action="service.settings")
    assert event.actor_name == "Ada Admin" and event.after["holidays"] == ["2026-12-24", "2026-12-25"]
    assert "greeting" in event.before and event.after["greeting"] == "Hello from Alpha."


def test_the_account_manager_sees_the_change_on_the_companys_page(db, tenants, admin):
    logged_in(tenants.alpha, admin).post("/service/", _form(open_always="on", greeting="Changed greeting."))
    manager = make_user(None, role=Role.ACCOUNT_MANAGER)
    page = logged_in(None, manager).get(f"/staff/clients/{tenants.alpha.pk}/").content.decode()
    assert "service.settings" in page and "Changed greeting." in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"day_0": "25:00-26:00"}, "is not a period such as 09:00-17:30"),
        ({"day_1": "18:00-09:00"}, "ends before it starts"),
        ({"day_2": "09:00-13:00, 12:00-17:00"}, "overlap"),
        ({}, "at least one day"),
        ({"open_always": "on", "holidays": "2026-13-01"}, "is not a date"),
        ({"open_always": "on", "greeting": ""}, "This field is required"),
    ],
)
def test_bad_settings_are_refused_with_a_message_and_change_nothing(db, tenants, admin, fields, message):
    with tenant_context(tenants.alpha):
        before = TelephonySettings.current()
    response = logged_in(tenants.alpha, admin).post("/service/", _form(**fields))
    assert response.status_code == 400 and message in response.content.decode()
    with tenant_context(tenants.alpha):
        after = TelephonySettings.current()
    assert (after.greeting, after.business_hours, after.holidays) == (
        before.greeting, before.business_hours, before.holidays,
    )  # fmt: skip
    assert not AuditEvent.objects.filter(client=tenants.alpha, action="service.settings").exists()


def _ics() -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//test//")
    calendar.add("version", "2.0")
    for start, end, summary in [
        (dt.date(2026, 12, 24), dt.date(2026, 12, 27), "Christmas"),  # DTEND is exclusive: 24, 25, 26
        (dt.date(2027, 1, 1), None, "New Year"),
    ]:
        event = icalendar.Event()
        event.add("summary", summary)
        event.add("dtstart", start)
        if end:
            event.add("dtend", end)
        calendar.add_component(event)
    return calendar.to_ical()


def test_holidays_are_imported_from_an_ics_calendar_and_a_csv_file(db, tenants, admin):
    client = logged_in(tenants.alpha, admin)
    ics = SimpleUploadedFile("holidays.ics", _ics(), content_type="text/calendar")
    assert (
        client.post("/service/", _form(open_always="on", holidays="2026-05-01", calendar=ics)).status_code
        == 302
    )
    with tenant_context(tenants.alpha):
        assert TelephonySettings.current().holidays == [
            "2026-05-01", "2026-12-24", "2026-12-25", "2026-12-26", "2027-01-01",
        ]  # fmt: skip
    csv_file = SimpleUploadedFile(
        "days.csv", b"date,name\n2027-04-02,Good Friday\n2027-04-05,Easter Monday\n"
    )
    assert client.post("/service/", _form(open_always="on", calendar=csv_file)).status_code == 302
    with tenant_context(tenants.alpha):
        assert TelephonySettings.current().holidays == ["2027-04-02", "2027-04-05"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.ics", b"BEGIN:VCALENDAR\nthis is not a calendar", "cannot be read"),
        (
            "x.ics",
            b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20261399\nEND:VEVENT\nEND:VCALENDAR\n",
            "dates cannot be read",
        ),
        ("x.csv", b"date\nsoon\n", "Row 2 holds no date"),
        ("x.pdf", b"%PDF-1.4", "Import an .ics calendar or a .csv file"),
        ("x.csv", b"\xff\xfe\x00", "not UTF-8"),
    ],
)
def test_a_bad_calendar_file_is_refused(db, tenants, admin, name, content, message):
    upload = SimpleUploadedFile(name, content)
    response = logged_in(tenants.alpha, admin).post("/service/", _form(open_always="on", calendar=upload))
    assert response.status_code == 400 and message in response.content.decode()


def test_the_specialists_directory_is_kept_in_e164_and_audited(db, tenants, admin):
    client = logged_in(tenants.alpha, admin)
    bad = client.post(
        "/service/specialists/", {"key": "billing", "name": "Billing desk", "phone": "030 123456"}
    )
    assert bad.status_code == 400 and "E.164" in bad.content.decode()
    good = client.post(
        "/service/specialists/", {"key": "billing", "name": "Billing desk", "phone": "+4930123456"}
    )
    assert good.status_code == 302
    changed = client.post(
        "/service/specialists/", {"key": "billing", "name": "Billing", "phone": "+4930123457"}
    )
    assert changed.status_code == 302
    with tenant_context(tenants.alpha):
        assert list(Specialist.objects.values_list("key", "name", "phone")) == [
            ("billing", "Billing", "+4930123457")
        ]
    assert client.post("/service/specialists/billing/remove/").status_code == 302
    with tenant_context(tenants.alpha):
        assert not Specialist.objects.exists()
    events = AuditEvent.objects.filter(client=tenants.alpha, action="service.specialist").order_by("id")
    assert [(e.before.get("phone"), e.after.get("phone")) for e in events] == [
        (None, "+4930123456"), ("+4930123456", "+4930123457"), ("+4930123457", None),
    ]  # fmt: skip


def test_viewers_read_the_settings_but_may_not_change_them(db, tenants):
    viewer = make_user(tenants.alpha, role=Role.CLIENT_VIEWER)
    client = logged_in(tenants.alpha, viewer)
    assert client.get("/service/").status_code == 200
    assert client.post("/service/", _form(open_always="on")).status_code == 403
    assert (
        client.post("/service/specialists/", {"key": "a", "name": "A", "phone": "+4930123456"}).status_code
        == 403
    )


def test_another_companys_admin_neither_reads_nor_changes_these_settings(db, tenants, admin):
    """Tenant isolation: beta's admin sees beta's settings; alpha's session means nothing on beta's host."""
    logged_in(tenants.alpha, admin).post(
        "/service/", _form(open_always="on", greeting="Alpha only greeting.")
    )
    beta_admin = make_user(tenants.beta, role=Role.CLIENT_ADMIN)
    assert "Alpha only greeting." not in logged_in(tenants.beta, beta_admin).get("/service/").content.decode()
    assert (
        http(tenants.beta).post("/service/", _form(open_always="on")).status_code == 302
    )  # to the login page
    assert http(None).get("/service/").status_code == 404  # not a page of the platform host
    with tenant_context(tenants.beta):
        assert TelephonySettings.current().greeting != "Alpha only greeting."


def test_a_specialists_hours_are_kept_per_weekday_and_shown(db, tenants, admin):
    client = logged_in(tenants.alpha, admin)
    saved = client.post(
        "/service/specialists/",
        {
            "key": "billing",
            "name": "Billing desk",
            "phone": "+4930123456",
            "hours": "Mon-Fri 09:00-17:00; Sat 10:00-14:00",
        },
    )
    assert saved.status_code == 302
    with tenant_context(tenants.alpha):
        hours = Specialist.objects.get(key="billing").hours
    assert hours == {**{str(d): [["09:00", "17:00"]] for d in range(5)}, "5": [["10:00", "14:00"]]}
    assert "Mon 09:00-17:00; Tue 09:00-17:00" in client.get("/service/").content.decode()


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ("Someday 09:00-17:00", "write days as Mon-Fri"),
        ("Mon-Fri 17:00-09:00", "ends before it starts"),
        ("Mon-Fri", "give the hours"),
        ("Mon-Fri 09:00-17:00; Fri 18:00-19:00", "Friday is given twice"),
    ],
)
def test_bad_specialist_hours_are_refused(db, tenants, admin, hours, message):
    response = logged_in(tenants.alpha, admin).post(
        "/service/specialists/", {"key": "desk", "name": "Desk", "phone": "+4930123456", "hours": hours}
    )
    assert response.status_code == 400 and message in response.content.decode()
    with tenant_context(tenants.alpha):
        assert not Specialist.objects.filter(key="desk").exists()


def test_a_change_scheduled_from_a_date_applies_to_calls_from_that_day_in_company_time(db, tenants, admin):
    with tenant_context(tenants.alpha):
        settings = TelephonySettings.current()
        settings.timezone = "America/New_York"
        settings.business_hours = {"0": [["09:00", "17:00"]]}  # Mondays 9 to 5 until the change
        settings.save()
    client = logged_in(tenants.alpha, admin)
    response = client.post("/service/", _form(day_0="12:00-20:00", effective_from="2099-03-02"))
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_context(tenants.alpha):
        saved = TelephonySettings.current()
        assert saved.business_hours == {"0": [["09:00", "17:00"]]}  # in force until the day comes
        zone = zoneinfo.ZoneInfo("America/New_York")
        # Monday 23 Feb 2099, 18:00 New York (23:00 UTC): before the day, the old hours: closed.
        before = dt.datetime(2099, 2, 23, 18, 0, tzinfo=zone)
        # Monday 2 Mar 2099, 18:00 New York: from the day on, the new hours: open.
        after = dt.datetime(2099, 3, 2, 18, 0, tzinfo=zone)
        # Sunday 1 Mar 2099 22:00 New York is already 2 Mar in UTC: the company's day counts.
        assert hours.in_force(saved, dt.datetime(2099, 3, 1, 22, 0, tzinfo=zone)).business_hours == {
            "0": [["09:00", "17:00"]]
        }
        for name, at in (("before", before), ("after", after)):
            call = Call.objects.create(
                call_sid=f"CAsched{name}", direction="inbound", from_number="+15550100",
                to_number="+15550199", started_at=at,
            )  # fmt: skip
            flows.first_step(tenant=tenants.alpha, call=call, now=at)
        assert Call.objects.get(call_sid="CAschedbefore").after_hours  # 18:00 on the old hours: closed
        assert not Call.objects.get(call_sid="CAschedafter").after_hours
    event = AuditEvent.objects.get(client=tenants.alpha, action="service.settings_scheduled")
    assert event.actor_name == "Ada Admin" and event.after["from"] == "2099-03-02"
    assert event.after["changes"]["business_hours"] == {"0": [["12:00", "20:00"]]}
    page = client.get("/service/").content.decode()
    assert "Scheduled changes" in page and "From 2099-03-02" in page


def test_a_change_cannot_be_scheduled_for_today_or_earlier(db, tenants, admin):
    client = logged_in(tenants.alpha, admin)
    response = client.post("/service/", _form(day_0="12:00-20:00", effective_from="2020-01-06"))
    assert response.status_code == 400 and "Choose a day after today" in response.content.decode()
    with tenant_context(tenants.alpha):
        assert TelephonySettings.current().scheduled == []
    assert not AuditEvent.objects.filter(client=tenants.alpha, action="service.settings_scheduled").exists()


def test_a_schedule_stays_with_its_company(db, tenants, admin):
    """Tenant isolation: alpha's scheduled change is neither shown on beta's page nor applied to its calls."""
    response = logged_in(tenants.alpha, admin).post(
        "/service/", _form(open_always="on", greeting="Alpha from March.", effective_from="2099-03-02")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    beta_admin = make_user(tenants.beta, role=Role.CLIENT_ADMIN)
    page = logged_in(tenants.beta, beta_admin).get("/service/").content.decode()
    assert "Scheduled changes" not in page and "Alpha from March." not in page
    with tenant_context(tenants.beta):
        later = dt.datetime(2099, 4, 1, 12, 0, tzinfo=dt.UTC)
        assert hours.in_force(TelephonySettings.current(), later).greeting != "Alpha from March."
    with tenant_context(tenants.alpha):
        assert hours.in_force(TelephonySettings.current(), later).greeting == "Alpha from March."


def test_an_admin_sets_what_the_operator_hears_before_the_caller_and_clears_it_back_to_the_default(
    db, tenants, admin
):
    client = logged_in(tenants.alpha, admin)
    assert 'name="operator_announcement"' in client.get("/service/").content.decode()
    assert (
        client.post("/service/", _form(open_always="on", operator_announcement=" Alpha parcels ")).status_code
        == 302
    )
    with tenant_context(tenants.alpha):
        assert TelephonySettings.current().operator_announcement == "Alpha parcels"
    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))
    assert "Announcement to the operator: Alpha parcels" in viewer.get("/service/").content.decode()
    assert client.post("/service/", _form(open_always="on", operator_announcement="")).status_code == 302
    with tenant_context(tenants.alpha):
        assert TelephonySettings.current().operator_announcement == ""
        assert TelephonySettings.objects.count() == 1
    with tenant_context(tenants.beta):
        assert TelephonySettings.current().operator_announcement == ""  # another company's is its own
