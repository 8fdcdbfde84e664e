"""Closing a client company: suspend and close say why; the data export is downloadable through a
signed, expiring link by the company's admins and the account managers for the notice period; the
closed company's portal is read-only with a banner."""

from __future__ import annotations

import datetime
import json

import pytest
from django.utils import timezone

from accounts.models import Role
from tenants import closing, lifecycle, onboarding
from tenants.models import AuditEvent, Client, ClientExport
from tests.conftest import http, logged_in, make_user
from tests.onboarding.helpers import accept, add_numbers, contact, manager, pay, sent_contract


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def live_client():
    add_numbers(1)
    by = manager()
    contract, client = sent_contract(by=by)
    accept(contract)
    pay(contract, by)
    client.refresh_from_db()
    return client, by


def test_suspend_and_close_refuse_without_a_reason_and_log_it(db, tenants, media):
    client, by = live_client()
    office = logged_in(None, by)
    page = office.post(f"/staff/clients/{client.pk}/suspend/", {"reason": ""}, follow=True).content.decode()
    assert "Say why the client company is suspended" in page
    office.post(f"/staff/clients/{client.pk}/close/", {"reason": " "})
    client.refresh_from_db()
    assert client.status == Client.Status.ACTIVE
    page = office.get(f"/staff/clients/{client.pk}/").content.decode()
    assert 'data-confirm="Suspend' in page and 'data-confirm="Close' in page  # and the browser asks first
    office.post(f"/staff/clients/{client.pk}/suspend/", {"reason": "Invoice 3 unpaid"})
    client.refresh_from_db()
    assert client.status == Client.Status.SUSPENDED
    assert (
        AuditEvent.objects.get(client=client, action="client.suspended").after["reason"] == "Invoice 3 unpaid"
    )


def test_the_export_is_kept_for_the_notice_period_and_downloaded_by_the_admin_and_the_manager(
    db, tenants, media
):
    client, by = live_client()
    before = timezone.now()
    lifecycle.client_close(client=client, by=by, reason="Contract ended by notice")
    export = ClientExport.objects.get(client=client)
    assert export.keep_until - export.created_at == datetime.timedelta(days=30)  # the contract's notice
    assert export.created_at >= before
    admin = logged_in(client, contact(client))
    home = admin.get("/").content.decode()
    assert "service is closed: this portal is read-only" in home and "/data-export/" in home
    page = admin.get("/data-export/").content.decode()
    token = closing.download_token(export)
    assert "/data-export/" in page and export.sha256 in page
    response = admin.get(f"/data-export/{token}/")
    assert response.status_code == 200
    document = json.loads(b"".join(response.streaming_content))
    assert document["client"]["slug"] == client.slug
    assert AuditEvent.objects.filter(client=client, action="export.downloaded").count() == 1
    office = logged_in(None, by)
    assert "/export/" in office.get(f"/staff/clients/{client.pk}/").content.decode()
    assert office.get(f"/staff/clients/{client.pk}/export/{token}/").status_code == 200


def test_the_export_link_is_for_its_company_admins_only_and_expires(db, tenants, media, monkeypatch):
    client, by = live_client()
    lifecycle.client_close(client=client, by=by, reason="Contract ended by notice")
    export = ClientExport.objects.get(client=client)
    token = closing.download_token(export)
    # Another company's admin, with the link, on its own host: nothing.
    beta = logged_in(tenants.beta, make_user(tenants.beta, role=Role.CLIENT_ADMIN))
    assert beta.get(f"/data-export/{token}/").status_code == 404
    assert "sha256" not in beta.get("/data-export/").content.decode().lower()
    # The company's editor: not an admin.
    editor = logged_in(client, make_user(client, role=Role.CLIENT_EDITOR))
    assert editor.get(f"/data-export/{token}/").status_code == 403
    # The back office under another company's id: nothing; nobody logged in: the login page.
    office = logged_in(None, by)
    assert office.get(f"/staff/clients/{tenants.alpha.pk}/export/{token}/").status_code == 404
    assert http(client).get(f"/data-export/{token}/").status_code == 302
    admin = logged_in(client, contact(client))
    assert admin.get(f"/data-export/{token}x/").status_code == 404  # tampered
    monkeypatch.setattr(closing, "LINK_SECONDS", -1)
    assert admin.get(f"/data-export/{token}/").status_code == 404  # expired link
    monkeypatch.undo()
    # Past the notice period the file is deleted and the link leads nowhere.
    later = export.keep_until + datetime.timedelta(seconds=1)
    assert closing.exports_purge_due(now=later) == [export.pk]
    assert not closing.export_file(export).exists()
    assert admin.get(f"/data-export/{closing.download_token(export)}/").status_code == 404
    assert closing.exports_purge_due(now=later) == []


def test_a_closed_company_s_portal_is_read_only_but_readable_and_its_people_can_log_in(db, tenants, media):
    client, by = live_client()
    lifecycle.client_close(client=client, by=by, reason="Contract ended by notice")
    admin = logged_in(client, contact(client))  # logging in still works
    assert admin.get("/team/").status_code == 200
    response = admin.post("/team/", {"email": "new@example.com", "first_name": "N", "role": "client_viewer"})
    assert response.status_code == 403
    assert "service is closed: the portal is read-only" in response.content.decode()
    api = admin.post("/api/v1/calls/", {})
    assert api.status_code == 403 and "read-only" in api.json()["detail"]
    with pytest.raises(onboarding.OnboardingError):
        lifecycle.client_close(client=client, by=by, reason="Closing twice")
    # Another company is untouched.
    beta = logged_in(tenants.beta, make_user(tenants.beta, role=Role.CLIENT_ADMIN))
    assert "read-only" not in beta.get("/").content.decode()
