"""Another client company cannot reach a campaign's contacts, list imports or do-not-call upload."""

from __future__ import annotations

import io

import pytest
from django_tenants.utils import tenant_context

from accounts.models import Role
from outbound.donotcall import dnc_add_many, platform_dnc_add_many
from outbound.models import CampaignContact, ContactImport, DoNotCall
from telephony.models import PlatformDoNotCall
from tests.conftest import logged_in, make_user
from tests.outbound.kit import add_contact, make_campaign

pytestmark = pytest.mark.django_db


def portal(tenant, role=Role.CLIENT_ADMIN):
    return logged_in(tenant, make_user(tenant, role=role))


@pytest.fixture
def alphas_import(tenants):
    """Alpha's campaign with one contact and one uploaded list waiting for its mapping."""
    with tenant_context(tenants.alpha):
        campaign = make_campaign(tenants.alpha)
        add_contact(campaign, "+12125550190", fields={"first_name": "Alma"})
    upload = io.BytesIO(b"Tel\n+12125550191\n")
    upload.name = "list.csv"
    response = portal(tenants.alpha).post(f"/campaigns/{campaign.pk}/import/", {"file": upload})
    assert response.status_code == 302
    with tenant_context(tenants.alpha):
        imported = ContactImport.objects.get(campaign=campaign)
    return campaign, imported


def test_beta_cannot_read_alphas_contacts_or_download_them(alphas_import, tenants):
    campaign, _ = alphas_import
    beta = portal(tenants.beta)
    assert beta.get(f"/campaigns/{campaign.pk}/contacts/").status_code == 404
    assert beta.get(f"/campaigns/{campaign.pk}/contacts/?format=csv").status_code == 404
    page = portal(tenants.alpha).get(f"/campaigns/{campaign.pk}/contacts/")
    assert page.status_code == 200 and "+12125550190" in page.content.decode()


def test_beta_cannot_see_map_or_download_alphas_list_import(alphas_import, tenants):
    campaign, imported = alphas_import
    beta = portal(tenants.beta)
    base = f"/campaigns/{campaign.pk}/import/{imported.pk}/"
    assert beta.get(base).status_code == 404
    assert beta.post(base, {"phone": "0", "priority": "0"}).status_code == 404
    assert beta.get(base + "rejected.csv").status_code == 404
    upload = io.BytesIO(b"Tel\n+12125550192\n")
    upload.name = "list.csv"
    assert beta.post(f"/campaigns/{campaign.pk}/import/", {"file": upload}).status_code == 404
    with tenant_context(tenants.alpha):
        assert ContactImport.objects.get(pk=imported.pk).state == ContactImport.State.UPLOADED
        assert list(CampaignContact.objects.values_list("phone", flat=True)) == ["+12125550190"]


def test_a_dnc_upload_lands_on_the_uploaders_list_only(tenants):
    upload = io.BytesIO(b"+12125550193\n")
    upload.name = "dnc.csv"
    page = portal(tenants.beta).post("/campaigns/do-not-call/upload/", {"up-file": upload, "up-region": "US"})
    assert page.status_code == 200
    with tenant_context(tenants.beta):
        assert DoNotCall.objects.filter(phone="+12125550193").exists()
    with tenant_context(tenants.alpha):
        assert not DoNotCall.objects.exists()
    assert "+12125550193" not in portal(tenants.alpha).get("/campaigns/do-not-call/").content.decode()
    assert not PlatformDoNotCall.objects.filter(phone="+12125550193").exists()


def test_viewers_and_company_admins_cannot_upload_to_either_list(tenants):
    def upload():
        data = io.BytesIO(b"+12125550194\n")
        data.name = "dnc.csv"
        return {"up-file": data, "up-region": "US"}

    operator = logged_in(None, make_user(None, role=Role.OPERATOR))  # before a request sets a schema
    viewer = portal(tenants.alpha, Role.CLIENT_VIEWER)
    assert viewer.post("/campaigns/do-not-call/upload/", upload()).status_code == 403
    assert operator.post("/backoffice/outbound/do-not-call/upload/", upload()).status_code == 403
    assert portal(tenants.alpha).post("/backoffice/outbound/do-not-call/upload/", upload()).status_code == 404
    with tenant_context(tenants.alpha):
        assert not DoNotCall.objects.exists()
    assert not PlatformDoNotCall.objects.exists()


def test_a_number_given_twice_in_one_list_is_added_once(tenants):
    phones = ["+12125550195", "+12125550195", "+12125550196"]
    with tenant_context(tenants.alpha):
        assert dnc_add_many(phones=phones) == 2
        assert dnc_add_many(phones=phones) == 0
        assert DoNotCall.objects.count() == 2
    assert platform_dnc_add_many(phones=phones) == 2
    assert PlatformDoNotCall.objects.count() == 2
