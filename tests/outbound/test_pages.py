"""Campaign pages (portal and back office) and the API: permissions, isolation, import, control, results."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django_tenants.utils import tenant_context

from accounts.models import Role
from outbound.models import Attempt, Campaign, CampaignContact, ContactImport, DoNotCall
from reporting.keys import api_key_create
from scripts_engine.models import ScriptSession
from telephony.models import PlatformDoNotCall
from tests.conftest import http, logged_in, make_user
from tests.factories import CallFactory
from tests.outbound.kit import add_contact, make_campaign, tenant_queue_and_number

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 11, 3, 12, tzinfo=dt.UTC)


def portal(tenant, role=Role.CLIENT_ADMIN):
    return logged_in(tenant, make_user(tenant, role=role))


@pytest.fixture
def survey(tenants):
    """Alpha's running survey: 4 contacts, 3 answered calls with answers, 1 busy."""
    with tenant_context(tenants.alpha):
        campaign = make_campaign(tenants.alpha, state=Campaign.State.RUNNING)
        version = campaign.script.versions.get()
        answers = [
            {"rating": "5", "recommend": "yes"},
            {"rating": "4", "recommend": "yes"},
            {"rating": "1", "low_reason": "waiting_time", "recommend": "no"},
        ]
        for n in range(4):
            entry = add_contact(campaign, f"+1555020{n:04d}", state="done", attempts=1)
            call = CallFactory(
                outbound=True, from_number=campaign.caller_id, to_number=entry.phone, started_at=T0
            )
            outcome = "busy"
            if n < 3:
                call.script_session = ScriptSession.objects.create(
                    version=version, kind="call", answers=answers[n]
                )
                call.disposition = "survey_done"
                call.save()
                outcome = "answered"
            Attempt.objects.create(
                campaign_contact=entry,
                campaign=campaign,
                call=call,
                started_at=T0,
                ended_at=T0,
                outcome=outcome,
            )
    return campaign


# Permissions and isolation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/campaigns/",
        "/campaigns/new/",
        "/campaigns/do-not-call/",
        "/campaigns/{pk}/",
        "/campaigns/{pk}/edit/",
    ],
)
def test_anonymous_is_sent_to_login(survey, tenants, path):
    response = http(tenants.alpha).get(path.format(pk=survey.pk))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_viewer_reads_but_cannot_manage(survey, tenants):
    viewer = portal(tenants.alpha, Role.CLIENT_VIEWER)
    page = viewer.get(f"/campaigns/{survey.pk}/")
    assert page.status_code == 200 and survey.name in page.content.decode()
    assert 'name="action"' not in page.content.decode()
    assert viewer.get("/campaigns/new/").status_code == 403
    assert viewer.get(f"/campaigns/{survey.pk}/edit/").status_code == 403
    assert viewer.post(f"/campaigns/{survey.pk}/control/", {"action": "pause"}).status_code == 403
    assert (
        viewer.post("/campaigns/do-not-call/", {"add-phone": "+15550100999", "add-region": "US"}).status_code
        == 403
    )
    with tenant_context(tenants.alpha):
        assert Campaign.objects.get(pk=survey.pk).state == "running"
        assert not DoNotCall.objects.exists()


def test_beta_cannot_see_edit_or_start_alphas_campaign(survey, tenants):
    beta = portal(tenants.beta)
    for path in (f"/campaigns/{survey.pk}/", f"/campaigns/{survey.pk}/edit/"):
        assert beta.get(path).status_code == 404
    for action in ("pause", "stop", "start"):
        assert beta.post(f"/campaigns/{survey.pk}/control/", {"action": action}).status_code == 404
    assert survey.name not in beta.get("/campaigns/").content.decode()
    with tenant_context(tenants.alpha):
        assert Campaign.objects.get(pk=survey.pk).state == "running"


def test_alpha_users_cannot_log_into_the_back_office_pages(survey, tenants):
    operator = logged_in(None, make_user(None, role=Role.OPERATOR))
    admin = portal(tenants.alpha)
    # The back office lives on the platform host only: on a tenant host it does not exist.
    assert admin.get(f"/backoffice/outbound/alpha/{survey.pk}/").status_code == 404
    assert operator.get("/backoffice/outbound/").status_code == 403
    assert (
        operator.post(f"/backoffice/outbound/alpha/{survey.pk}/control/", {"action": "pause"}).status_code
        == 403
    )


# Create, edit, control ---------------------------------------------------------------------------


def test_admin_creates_a_campaign_with_the_companys_queue_and_number(tenants):
    queue, number = tenant_queue_and_number(tenants.alpha)
    other_queue, other_number = tenant_queue_and_number(tenants.beta)
    with tenant_context(tenants.alpha):
        script = make_campaign(tenants.alpha).script
    client = portal(tenants.alpha)
    form = client.get("/campaigns/new/").content.decode()
    assert queue.name in form and number in form
    assert other_queue.name not in form and other_number not in form
    data = {
        "name": "Winter survey",
        "kind": "survey",
        "script": script.pk,
        "queue": queue.pk,
        "caller_id": number,
        "mode": "progressive",
        "window_start": "09:00",
        "window_end": "20:00",
        "window_days": ["0", "1", "2", "3", "4"],
        "default_region": "US",
        "default_timezone": "America/Chicago",
        "max_attempts": "3",
        "retry_busy_minutes": "10",
        "retry_no_answer_minutes": "",
        "machine_action": "hangup",
    }
    bad = client.post("/campaigns/new/", {**data, "queue": other_queue.pk, "window_end": "08:00"})
    assert bad.status_code == 400
    assert "The window must end after it starts" in bad.content.decode()
    assert client.post("/campaigns/new/", {**data, "default_timezone": "Mars/Base"}).status_code == 400
    response = client.post("/campaigns/new/", data)
    assert response.status_code == 302
    with tenant_context(tenants.alpha):
        campaign = Campaign.objects.get(name="Winter survey")
        assert (campaign.queue_id, campaign.caller_id, campaign.retry_no_answer_minutes) == (
            queue.pk,
            number,
            None,
        )
        assert campaign.state == "draft" and campaign.window_days == [0, 1, 2, 3, 4]


def test_control_buttons_and_an_invalid_transition_gets_409_with_a_message(survey, tenants):
    client = portal(tenants.alpha, Role.CLIENT_EDITOR)
    assert client.post(f"/campaigns/{survey.pk}/control/", {"action": "pause"}).status_code == 302
    refused = client.post(f"/campaigns/{survey.pk}/control/", {"action": "pause"})
    assert refused.status_code == 409
    assert "A paused campaign cannot be paused." in refused.content.decode()
    assert client.post(f"/campaigns/{survey.pk}/control/", {"action": "resume"}).status_code == 302
    assert client.get(f"/campaigns/{survey.pk}/control/").status_code == 405
    with tenant_context(tenants.alpha):  # every contact was done: resuming completes it
        assert Campaign.objects.get(pk=survey.pk).state == "completed"


def test_back_office_controls_a_chosen_companys_campaign(survey, tenants):
    manager = logged_in(None, make_user(None, role=Role.SUPERVISOR))
    assert "Alpha Ltd" in manager.get("/backoffice/outbound/").content.decode()
    assert survey.name in manager.get("/backoffice/outbound/alpha/").content.decode()
    assert survey.name not in manager.get("/backoffice/outbound/beta/").content.decode()
    assert manager.get(f"/backoffice/outbound/beta/{survey.pk}/").status_code == 404
    assert (
        manager.post(f"/backoffice/outbound/beta/{survey.pk}/control/", {"action": "stop"}).status_code == 404
    )
    assert (
        manager.post(f"/backoffice/outbound/alpha/{survey.pk}/control/", {"action": "stop"}).status_code
        == 302
    )
    refused = manager.post(f"/backoffice/outbound/alpha/{survey.pk}/control/", {"action": "resume"})
    assert refused.status_code == 409 and "A stopped campaign cannot be resumed." in refused.content.decode()
    page = manager.get(f"/backoffice/outbound/alpha/{survey.pk}/").content.decode()
    assert 'data-state="stopped"' in page


# Import through the pages ------------------------------------------------------------------------


def test_upload_map_import_and_download_the_rejection_report(tenants):
    with tenant_context(tenants.alpha):
        campaign = make_campaign(tenants.alpha, default_region="GB")
    client = portal(tenants.alpha)
    text = "Tel;Name;Plan\n020 7946 0018;Ann;gold\n12345;Bob;\n+44 20 7946 0018;;silver\n07911 123456;Cy;\n"
    upload = io.BytesIO(text.encode("cp1252"))
    upload.name = "list.csv"
    response = client.post(f"/campaigns/{campaign.pk}/import/", {"file": upload})
    assert response.status_code == 302
    mapping_page = client.get(response["Location"])
    assert mapping_page.status_code == 200 and "Plan" in mapping_page.content.decode()
    clash = client.post(response["Location"], {"phone": "0", "first_name": "0", "priority": "0"})
    assert clash.status_code == 400 and "Each column can hold one field only." in clash.content.decode()
    done = client.post(response["Location"], {"phone": "0", "first_name": "1", "priority": "5"})
    assert done.status_code == 302
    result = client.get(done["Location"]).content.decode()
    assert 'data-figure="created">2<' in result and 'data-figure="merged">1<' in result
    report = client.get(done["Location"].replace("result/", "rejected.csv"))
    assert report["Content-Type"].startswith("text/csv")
    assert report.content.decode().splitlines() == [
        "row,value,reason",
        "3,12345,Not a valid phone number for its country.",
    ]
    with tenant_context(tenants.alpha):
        entries = {e.phone: e for e in CampaignContact.objects.filter(campaign=campaign)}
        assert set(entries) == {"+442079460018", "+447911123456"}
        assert entries["+442079460018"].fields == {"Plan": "gold"} and entries["+442079460018"].priority == 5
        assert ContactImport.objects.get(campaign=campaign).data == b""
    assert portal(tenants.beta).get(done["Location"]).status_code == 404


def test_a_mapping_submitted_twice_imports_once(tenants, monkeypatch):
    from outbound.views import portal as views

    with tenant_context(tenants.alpha):
        campaign = make_campaign(tenants.alpha, default_region="GB")
    client = portal(tenants.alpha)
    upload = io.BytesIO(b"Tel\n020 7946 0018\n")
    upload.name = "list.csv"
    mapping_url = client.post(f"/campaigns/{campaign.pk}/import/", {"file": upload})["Location"]
    real = views.access_import

    def read_then_other_request_imports(request, campaign, pk):
        stale = real(request, campaign, pk)  # the first submit finishes after this read
        ContactImport.objects.filter(pk=pk).update(state=ContactImport.State.IMPORTED, data=b"")
        return stale

    monkeypatch.setattr(views, "access_import", read_then_other_request_imports)
    response = client.post(mapping_url, {"phone": "0", "priority": "0"})
    assert response.status_code == 302 and response["Location"].endswith("/result/")
    with tenant_context(tenants.alpha):
        assert not CampaignContact.objects.filter(campaign=campaign).exists()


def test_an_unreadable_upload_is_a_400_with_a_message(tenants):
    with tenant_context(tenants.alpha):
        campaign = make_campaign(tenants.alpha)
    upload = io.BytesIO(b"PK\x03\x04not really a workbook")
    upload.name = "list.xlsx"
    response = portal(tenants.alpha).post(f"/campaigns/{campaign.pk}/import/", {"file": upload})
    assert response.status_code == 400
    assert "not a readable Excel" in response.content.decode()


# Do-not-call lists -------------------------------------------------------------------------------


def test_company_dnc_add_upload_and_remove(survey, tenants):
    client = portal(tenants.alpha)
    with tenant_context(tenants.alpha):
        pending = add_contact(survey, "+12125550177")
    assert (
        client.post(
            "/campaigns/do-not-call/", {"add-phone": "(212) 555-0177", "add-region": "US"}
        ).status_code
        == 302
    )
    bad = client.post("/campaigns/do-not-call/", {"add-phone": "hello", "add-region": "US"})
    assert bad.status_code == 400 and "Not a phone number" in bad.content.decode()
    upload = io.BytesIO(b"+12125550178\n2125550179\nrubbish\n")
    upload.name = "dnc.csv"
    page = client.post("/campaigns/do-not-call/upload/", {"up-file": upload, "up-region": "US"})
    assert page.status_code == 200 and "2 numbers added" in page.content.decode()
    with tenant_context(tenants.alpha):
        assert set(DoNotCall.objects.values_list("phone", flat=True)) == {
            "+12125550177",
            "+12125550178",
            "+12125550179",
        }
        pending.refresh_from_db()
        assert pending.state == "dnc"
        entry = DoNotCall.objects.get(phone="+12125550177")
    assert portal(tenants.beta).post(f"/campaigns/do-not-call/{entry.pk}/delete/").status_code == 404
    assert client.post(f"/campaigns/do-not-call/{entry.pk}/delete/").status_code == 302
    with tenant_context(tenants.alpha):
        pending.refresh_from_db()
        assert pending.state == "pending"
    assert "+12125550178" not in portal(tenants.beta).get("/campaigns/do-not-call/").content.decode()


def test_an_opted_out_number_cannot_be_removed(tenants):
    with tenant_context(tenants.alpha):
        entry = DoNotCall.objects.create(phone="+12125550180", source="opt_out")
    response = portal(tenants.alpha).post(f"/campaigns/do-not-call/{entry.pk}/delete/")
    assert response.status_code == 409 and "stays on the list" in response.content.decode()


def test_platform_dnc_is_managed_in_the_back_office_only(db, tenants):
    manager = logged_in(None, make_user(None, role=Role.ACCOUNT_MANAGER))
    operator = logged_in(None, make_user(None, role=Role.OPERATOR))
    assert (
        manager.post(
            "/backoffice/outbound/do-not-call/", {"add-phone": "+4930555000", "add-region": "DE"}
        ).status_code
        == 302
    )
    entry = PlatformDoNotCall.objects.get(phone="+4930555000")
    assert "+4930555000" in manager.get("/backoffice/outbound/do-not-call/").content.decode()
    assert operator.get("/backoffice/outbound/do-not-call/").status_code == 403
    assert operator.post(f"/backoffice/outbound/do-not-call/{entry.pk}/delete/").status_code == 403
    assert manager.post(f"/backoffice/outbound/do-not-call/{entry.pk}/delete/").status_code == 302
    assert not PlatformDoNotCall.objects.filter(phone="+4930555000").exists()


# Results and the API -----------------------------------------------------------------------------


def test_survey_results_page_shows_reach_outcomes_and_per_question_aggregates(survey, tenants):
    page = portal(tenants.alpha, Role.CLIENT_VIEWER).get(f"/campaigns/{survey.pk}/").content.decode()
    assert 'data-figure="reached">3<' in page and 'data-figure="attempts">4<' in page
    assert 'data-outcome="busy">1<' in page
    assert 'data-count="yes">2<' in page and 'data-count="no">1<' in page
    assert 'data-count="waiting_time">1<' in page


def api_get(tenant, path, key):
    return http(tenant).get(path, HTTP_AUTHORIZATION=f"Bearer {key}")


def test_api_lists_campaigns_with_results_and_hides_them_from_another_tenant(survey, tenants):
    with tenant_context(tenants.alpha):
        _, key = api_key_create(name="crm", scopes=["read_reports"])
        _, calls_only = api_key_create(name="calls", scopes=["read_calls"])
    with tenant_context(tenants.beta):
        _, beta_key = api_key_create(name="crm", scopes=["read_reports"])
    listed = api_get(tenants.alpha, "/api/v1/campaigns/", key)
    assert listed.status_code == 200
    assert [c["name"] for c in listed.json()["results"]] == [survey.name]
    detail = api_get(tenants.alpha, f"/api/v1/campaigns/{survey.pk}/", key).json()
    results = detail["results"]
    assert (results["contacts"], results["reached"], results["attempts"]) == (4, 3, 4)
    assert results["outcomes"]["answered"] == 3 and results["outcomes"]["busy"] == 1
    questions = {q["node"]: q for q in results["questions"]}
    assert {c["value"]: c["count"] for c in questions["rating"]["counts"]} == {"5": 1, "4": 1, "1": 1}
    assert {c["value"]: c["count"] for c in questions["recommend"]["counts"]} == {"yes": 2, "no": 1}
    assert api_get(tenants.alpha, f"/api/v1/campaigns/{survey.pk}/", calls_only).status_code == 403
    assert api_get(tenants.beta, f"/api/v1/campaigns/{survey.pk}/", beta_key).status_code == 404
    assert api_get(tenants.beta, "/api/v1/campaigns/", beta_key).json()["results"] == []
    assert api_get(tenants.beta, f"/api/v1/campaigns/{survey.pk}/", key).status_code in (401, 403)
    schema = http(tenants.alpha).get("/api/v1/schema/", {"format": "json"}).json()
    assert {"/api/v1/campaigns/", "/api/v1/campaigns/{id}/"} <= set(schema["paths"])


def test_sales_conversion_counts_calls_with_a_conversion_disposition(tenants):
    with tenant_context(tenants.alpha):
        campaign = make_campaign(tenants.alpha, sample="sales", conversion_dispositions=["sale"])
        for n, disposition in enumerate(["sale", "no_interest", "sale", ""]):
            entry = add_contact(campaign, f"+1555030{n:04d}")
            call = CallFactory(
                outbound=True,
                from_number=campaign.caller_id,
                to_number=entry.phone,
                started_at=T0,
                disposition=disposition,
            )
            Attempt.objects.create(
                campaign_contact=entry,
                campaign=campaign,
                call=call,
                started_at=T0,
                ended_at=T0,
                outcome="answered" if disposition else "no-answer",
            )
        _, key = api_key_create(name="crm", scopes=["read_reports"])
    results = api_get(tenants.alpha, f"/api/v1/campaigns/{campaign.pk}/", key).json()["results"]
    assert results["conversion"] == {"dispositions": ["sale"], "converted": 2, "rate": 0.6667}
    page = portal(tenants.alpha).get(f"/campaigns/{campaign.pk}/").content.decode()
    assert 'data-figure="converted">2<' in page and "66.7 %" in page


def test_settings_are_edited_until_the_campaign_is_stopped(survey, tenants):
    client = portal(tenants.alpha, Role.CLIENT_EDITOR)
    form = client.get(f"/campaigns/{survey.pk}/edit/")
    assert form.status_code == 200 and f'value="{survey.caller_id}" selected' in form.content.decode()
    data = {
        "name": survey.name,
        "kind": "survey",
        "script": survey.script_id,
        "queue": survey.queue_id,
        "caller_id": survey.caller_id,
        "mode": "preview",
        "window_start": "10:00",
        "window_end": "18:00",
        "window_days": ["5", "6"],
        "default_region": "DE",
        "default_timezone": "Europe/Berlin",
        "max_attempts": "5",
        "machine_action": "message",
        "amd_enabled": "on",
    }
    missing = client.post(f"/campaigns/{survey.pk}/edit/", data)
    assert missing.status_code == 400 and "Write the message to leave." in missing.content.decode()
    assert (
        client.post(f"/campaigns/{survey.pk}/edit/", {**data, "machine_message": "Hello"}).status_code == 302
    )
    with tenant_context(tenants.alpha):
        campaign = Campaign.objects.get(pk=survey.pk)
        assert (campaign.mode, campaign.max_attempts, campaign.window_days) == ("preview", 5, [5, 6])
        assert (campaign.window_start, campaign.machine_message) == (dt.time(10), "Hello")
        Campaign.objects.filter(pk=survey.pk).update(state="stopped")
    refused = client.get(f"/campaigns/{survey.pk}/edit/", follow=True)
    assert "A stopped campaign cannot be changed." in refused.content.decode()
    assert client.post(f"/campaigns/{survey.pk}/edit/", {**data, "max_attempts": "9"}).status_code == 302
    with tenant_context(tenants.alpha):
        assert Campaign.objects.get(pk=survey.pk).max_attempts == 5


def test_contacts_page_filters_by_state_and_downloads_csv(survey, tenants):
    with tenant_context(tenants.alpha):
        add_contact(survey, "+15550700001", fields={"note": "=HYPERLINK(1)"})
    viewer = portal(tenants.alpha, Role.CLIENT_VIEWER)
    pending = viewer.get(f"/campaigns/{survey.pk}/contacts/", {"state": "pending"}).content.decode()
    assert 'data-phone="+15550700001"' in pending and 'data-phone="+15550200000"' not in pending
    everyone = viewer.get(f"/campaigns/{survey.pk}/contacts/").content.decode()
    assert "5 contacts" in everyone
    download = viewer.get(f"/campaigns/{survey.pk}/contacts/", {"state": "pending", "format": "csv"})
    lines = b"".join(download.streaming_content).decode().splitlines()
    assert lines[0].startswith("phone,first_name,last_name,timezone,state,attempts")
    assert len(lines) == 2 and lines[1].startswith("+15550700001,") and ",pending,0," in lines[1]
    assert portal(tenants.beta).get(f"/campaigns/{survey.pk}/contacts/").status_code == 404
