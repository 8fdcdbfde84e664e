"""The demo goes through onboarding itself; the admin manages the catalogue and the number pool."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from telephony.models import PhoneNumber
from tenants.models import AuditEvent, Client, Order
from tests.conftest import logged_in


@pytest.mark.slow
def test_demo_onboards_three_active_companies_with_a_number_and_leaves_one_pending_order(db, tenants):
    call_command("demo", verbosity=0)
    call_command("demo", verbosity=0)  # idempotent
    for slug in ("acme", "globex", "initech"):
        client = Client.objects.get(slug=slug)
        assert client.status == "active"
        assert PhoneNumber.objects.filter(tenant=client, state="assigned").count() == 1
        order = Order.objects.get(client=client)
        assert order.state == "active"
        actions = set(AuditEvent.objects.filter(client=client).values_list("action", flat=True))
        assert {"contract.sent", "contract.accepted", "invoice.payment", "client.provisioned"} <= actions
    pending = Order.objects.get(portal_slug="umbrella")
    assert pending.state == "submitted"
    assert Order.objects.filter(portal_slug__in=["acme", "globex", "initech", "umbrella"]).count() == 4


def test_the_admin_lists_the_number_pool_and_the_catalogue(db, tenants, platform_admin):
    call_command("demo", verbosity=0)
    client = logged_in(None, platform_admin)
    for url in [
        "/admin/telephony/phonenumber/",
        "/admin/telephony/queue/",
        "/admin/tenants/service/",
        "/admin/tenants/tariff/",
        "/admin/tenants/order/",
        "/admin/tenants/contract/",
        "/admin/tenants/auditevent/",
    ]:
        assert client.get(url).status_code == 200, url
    page = client.get("/admin/telephony/phonenumber/?state=assigned").content.decode()
    assert PhoneNumber.objects.get(tenant__slug="acme").number in page
    assert client.get("/admin/tenants/service/add/").status_code == 200
