"""Who heard what: every play or download of a recording (portal, platform quality pages, API) is a
row of the company's own access log, which its staff read in the portal (filters, company time
zone, CSV/XLSX) and through the API; another company sees none of it."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from openpyxl import load_workbook

from accounts.models import Role
from reporting.keys import api_key_create
from telephony import recordings
from telephony.calls.models import RecordingAccess, TelephonySettings
from tests.conftest import http, logged_in, make_user
from tests.quality.kit import MP3, make_call


@pytest.fixture
def stored_call(db, tenants, media):
    call = make_call(tenants.alpha)
    with tenant_context(tenants.alpha):
        recordings.store_recording(call_id=call.pk)
    return call


def _log(tenant) -> list[RecordingAccess]:
    with tenant_context(tenant):
        return list(RecordingAccess.objects.order_by("at", "pk"))


def test_a_play_in_the_portal_is_one_row_whatever_the_seeks_and_a_download_says_so(db, tenants, stored_call):
    viewer_user = make_user(tenants.alpha, role=Role.CLIENT_VIEWER, username="vera")
    viewer = logged_in(tenants.alpha, viewer_user)
    url = f"/recordings/{stored_call.pk}/audio"
    played = viewer.get(url, HTTP_RANGE="bytes=0-", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Chromium")
    assert b"".join(played.streaming_content) == MP3
    viewer.get(url, HTTP_RANGE="bytes=1000-")  # the player seeking: the same listen
    downloaded = viewer.get(url + "?download=1")
    assert downloaded["Content-Disposition"].startswith("attachment")
    assert b"".join(downloaded.streaming_content) == MP3
    play, download = _log(tenants.alpha)
    assert (play.action, play.surface, play.username, play.user_id) == (
        "play",
        "portal",
        "vera",
        viewer_user.pk,
    )
    assert (play.ip, play.user_agent, play.call_id) == ("203.0.113.9", "Chromium", stored_call.pk)
    assert play.call_sid == stored_call.call_sid and play.recording_sid == stored_call.recording_sid
    assert not play.platform_staff and download.action == "download"
    assert _log(tenants.beta) == []


def test_platform_staff_on_the_quality_pages_are_logged_in_the_companys_own_log(db, tenants, stored_call):
    connection.set_schema_to_public()
    boss = make_user(None, role=Role.SUPERVISOR, username="svisor-login", first_name="Sue", last_name="Visor")
    supervisor = logged_in(None, boss)
    response = supervisor.get(f"/quality/{tenants.alpha.slug}/calls/{stored_call.pk}/audio")
    assert b"".join(response.streaming_content) == MP3
    (row,) = _log(tenants.alpha)
    assert (row.surface, row.username, row.name, row.platform_staff) == (
        "quality",
        "svisor-login",
        "Sue Visor",
        True,
    )
    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))
    page = viewer.get("/recordings/access-log/").content.decode()  # the company sees "Sue V.", no login name
    assert "Sue V." in page and "svisor-login" not in page and "Sue Visor" not in page
    assert "Sue V." in viewer.get("/recordings/access-log/", {"who": "Sue"}).content.decode()
    assert "Sue V." not in viewer.get("/recordings/access-log/", {"who": "svisor"}).content.decode()
    missing = supervisor.get(f"/quality/{tenants.beta.slug}/calls/{stored_call.pk}/audio")
    assert missing.status_code == 404 and _log(tenants.beta) == []


def test_the_api_serves_a_recording_to_a_key_with_read_calls_and_logs_it(db, tenants, stored_call):
    with tenant_context(tenants.alpha):
        key, text = api_key_create(name="crm", scopes=["read_calls"])
        _, reports_only = api_key_create(name="bi", scopes=["read_reports"])
    with tenant_context(tenants.beta):
        _, beta_text = api_key_create(name="crm", scopes=["read_calls"])
    path = f"/api/v1/calls/{stored_call.pk}/recording/"
    response = http(tenants.alpha).get(path, {"download": "1"}, HTTP_AUTHORIZATION=f"Bearer {text}")
    assert response.status_code == 200 and b"".join(response.streaming_content) == MP3
    (row,) = _log(tenants.alpha)
    assert (row.surface, row.action, row.user_id) == ("api", "download", None)
    assert row.username.startswith("API key crm (cck_" + key.prefix)
    assert http(tenants.alpha).get(path, HTTP_AUTHORIZATION=f"Bearer {reports_only}").status_code == 403
    assert http(tenants.alpha).get(path, HTTP_AUTHORIZATION=f"Bearer {beta_text}").status_code == 401
    assert http(tenants.beta).get(path, HTTP_AUTHORIZATION=f"Bearer {beta_text}").status_code == 404
    assert len(_log(tenants.alpha)) == 1 and _log(tenants.beta) == []


def _accesses(tenant, call, *rows: tuple[dt.datetime, str, str, str]) -> None:
    with tenant_context(tenant):
        for at, action, surface, who in rows:
            RecordingAccess.objects.create(call=call, call_sid=call.call_sid, at=at, action=action,
                                           surface=surface, username=who, ip="198.51.100.7")  # fmt: skip


@pytest.fixture
def logged(db, tenants):
    """Three accesses to a call of alpha (Berlin time), one to a call of beta."""
    call = make_call(tenants.alpha)
    with tenant_context(tenants.alpha):
        TelephonySettings.objects.update_or_create(pk=1, defaults={"timezone": "Europe/Berlin"})
    # 23:30 UTC on 1 March is 00:30 on 2 March in Berlin.
    late = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)
    _accesses(tenants.alpha, call, (late, "play", "portal", "vera"),
              (late - dt.timedelta(hours=2), "download", "api", "API key crm"),
              (late - dt.timedelta(days=3), "play", "quality", "sue"))  # fmt: skip
    other = make_call(tenants.beta)
    _accesses(tenants.beta, other, (late, "play", "portal", "bob-of-beta"))
    return call


def test_the_portal_lists_the_log_filtered_in_the_companys_time_zone(db, tenants, logged):
    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))
    page = viewer.get("/recordings/access-log/")
    assert page.status_code == 200 and b"vera" in page.content and b"bob-of-beta" not in page.content
    assert b"2026-03-02 00:30:00" in page.content  # Berlin time
    day = viewer.get("/recordings/access-log/", {"start": "2026-03-02", "end": "2026-03-02"})
    assert b"vera" in day.content and b"API key crm" not in day.content and b"sue" not in day.content
    plays = viewer.get("/recordings/access-log/", {"action": "play", "surface": "quality"})
    assert b"sue" in plays.content and b"vera" not in plays.content
    bad = viewer.get("/recordings/access-log/", {"start": "2026-03-05", "end": "2026-03-01"})
    assert bad.status_code == 400 and b"vera" not in bad.content
    assert viewer.get("/recordings/access-log/", {"surface": "nowhere"}).status_code == 400


def test_the_log_exports_as_csv_and_xlsx_as_filtered(db, tenants, logged):
    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))
    response = viewer.get("/recordings/access-log/export.csv", {"start": "2026-03-01"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:4] == ["at (local)", "action", "where", "who"]
    assert [r[3] for r in rows[1:]] == ["vera", "API key crm"]
    assert rows[1][0].startswith("2026-03-02 00:30:00")
    book = load_workbook(
        io.BytesIO(b"".join(viewer.get("/recordings/access-log/export.xlsx").streaming_content))
    )
    assert [row[3] for row in book.active.iter_rows(min_row=2, values_only=True)] == [
        "vera",
        "API key crm",
        "sue",
    ]
    assert viewer.get("/recordings/access-log/export.pdf").status_code == 404
    assert viewer.get("/recordings/access-log/export.csv", {"start": "x"}).status_code == 400
    beta = logged_in(tenants.beta, make_user(tenants.beta, role=Role.CLIENT_ADMIN))
    exported = b"".join(beta.get("/recordings/access-log/export.csv").streaming_content)
    assert b"bob-of-beta" in exported and b"vera" not in exported
    assert b"vera" not in beta.get("/recordings/access-log/").content


def test_the_api_lists_the_log_with_filters_and_only_the_keys_own_company(db, tenants, logged):
    with tenant_context(tenants.alpha):
        _, text = api_key_create(name="crm", scopes=["read_calls"])
    with tenant_context(tenants.beta):
        _, beta_text = api_key_create(name="crm", scopes=["read_calls"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {text}"}
    listed = http(tenants.alpha).get("/api/v1/recording-accesses/", **auth).json()["results"]
    assert [r["who"] for r in listed] == ["vera", "API key crm", "sue"]
    assert listed[0]["at"].startswith("2026-03-01T23:30:00") and listed[0]["call_sid"] == logged.call_sid
    after = {"at_after": "2026-03-01T22:00:00Z", "action": "play"}
    assert [
        r["who"]
        for r in http(tenants.alpha).get("/api/v1/recording-accesses/", after, **auth).json()["results"]
    ] == ["vera"]
    assert (
        http(tenants.alpha).get("/api/v1/recording-accesses/", {"action": "listen"}, **auth).status_code
        == 400
    )
    beta = (
        http(tenants.beta).get("/api/v1/recording-accesses/", HTTP_AUTHORIZATION=f"Bearer {beta_text}").json()
    )
    assert [r["who"] for r in beta["results"]] == ["bob-of-beta"]
    schema = http(tenants.alpha).get("/api/v1/schema/", HTTP_ACCEPT="application/json").content
    assert b"/api/v1/recording-accesses/" in schema and b"/api/v1/calls/{id}/recording/" in schema


def test_the_log_is_for_the_companys_staff_only(db, tenants, logged):
    assert http(tenants.alpha).get("/recordings/access-log/").status_code == 302  # to the login page
    connection.set_schema_to_public()
    operator = logged_in(None, make_user(None, role=Role.OPERATOR))
    assert operator.get("/recordings/access-log/").status_code == 404  # no portal on the platform host


def test_the_log_export_answers_as_the_call_lists_export_does(db, tenants, logged, monkeypatch):
    """The same writer as the call list's export (``reporting.exports.filtered_export``): the file
    as before, and its refusals word for word."""
    from reporting import exports

    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))
    response = viewer.get("/recordings/access-log/export.csv", {"start": "2026-03-02", "end": "2026-03-02"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="alpha-recording-access.csv"'
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeffat (local),action,where,who,platform staff,call id,call sid,recording sid,")
    assert [row[:4] for row in csv.reader(io.StringIO(body.lstrip("\ufeff")))][1:] == [
        ["2026-03-02 00:30:00+01:00", "Played", "Client portal", "vera"]
    ]
    book = viewer.get("/recordings/access-log/export.xlsx", {"action": "play"})
    assert book["Content-Disposition"] == 'attachment; filename="alpha-recording-access.xlsx"'
    sheet = load_workbook(io.BytesIO(b"".join(book.streaming_content))).active
    assert sheet.title == "Recording access"
    assert [row[3] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["vera", "sue"]
    bad = viewer.get("/recordings/access-log/export.csv", {"start": "2026-03-05", "end": "2026-03-01"})
    assert (bad.status_code, bad["Content-Type"]) == (400, "text/plain; charset=utf-8")
    assert bad.content.decode() == "Check the filters: end: The first day must not be after the last day."
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 2)
    many = viewer.get("/recordings/access-log/export.xlsx")
    assert (many.status_code, many.content.decode()) == (
        400, "More than 2 rows for one spreadsheet: narrow the filters, or download CSV."
    )  # fmt: skip
    assert viewer.get("/recordings/access-log/export.xlsx", {"action": "play"}).status_code == 200
