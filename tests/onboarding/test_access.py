"""Who may see and do what: back office for account managers, each portal for its own company only."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Role, User
from telephony.models import PhoneNumber
from tenants import contracting
from tenants.models import ContractVersion, FirstInvoice
from tests.conftest import PASSWORD, http, logged_in, make_user
from tests.onboarding.helpers import accept, add_numbers, contact, manager, pay, sent_contract, submit_order
from tests.onboarding.test_contract_tax import queue_rows

BACK_OFFICE_GETS = [
    "/staff/orders/",
    "/staff/orders/{order}/",
    "/staff/contracts/{contract}/",
    "/staff/contracts/{contract}/v/1/",
    "/staff/contracts/{contract}/v/1/pdf/",
    "/staff/clients/{client}/",
    "/staff/audit/",
    "/staff/contracts/{contract}/first-invoice.pdf",
    "/staff/clients/{client}/export/any-token/",
]
BACK_OFFICE_POSTS = [
    "/staff/orders/{order}/contract/",
    "/staff/orders/{order}/reject/",
    "/staff/contracts/{contract}/send/",
    "/staff/contracts/{contract}/invite/",
    "/staff/contracts/{contract}/payment/",
    "/staff/clients/{client}/suspend/",
    "/staff/clients/{client}/close/",
    "/staff/contracts/{contract}/go-live/",
]


def _urls(templates, contract):
    ids = {"order": contract.order_id, "contract": contract.pk, "client": contract.client_id}
    return [t.format(**ids) for t in templates]


def test_back_office_sends_anonymous_visitors_to_the_login(db, tenants):
    contract, _ = sent_contract()
    for url in _urls(BACK_OFFICE_GETS + BACK_OFFICE_POSTS, contract):
        response = http(None).get(url) if url in _urls(BACK_OFFICE_GETS, contract) else http(None).post(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SUPERVISOR])
def test_back_office_refuses_platform_staff_who_are_not_account_managers(db, tenants, role):
    contract, _ = sent_contract()
    client = logged_in(None, make_user(None, role=role))
    for url in _urls(BACK_OFFICE_GETS, contract):
        assert client.get(url).status_code == 403, url
    for url in _urls(BACK_OFFICE_POSTS, contract):
        assert client.post(url).status_code == 403, url
    assert contract.versions.count() == 1


def test_back_office_is_not_served_on_a_client_host(db, tenants):
    admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN, is_staff=True, is_superuser=True)
    client = logged_in(tenants.alpha, admin)
    for url in ["/staff/orders/", "/staff/audit/", "/order/", "/services/"]:
        assert client.get(url).status_code == 404, url


def test_back_office_drafts_edits_sends_and_records_payment_over_http(
    db, tenants, django_capture_on_commit_callbacks
):
    add_numbers(2)
    order = submit_order()
    client = logged_in(None, manager())
    orders_page = client.get("/staff/orders/?state=submitted").content.decode()
    assert order.legal_name in orders_page
    response = client.post(f"/staff/orders/{order.pk}/contract/")
    assert response.status_code == 302
    contract = order.contract
    bad_queue = queue_rows({"name": "Main", "sl_percent": "250", "sl_seconds": "20"})
    invalid = client.post(f"/staff/contracts/{contract.pk}/", {**bad_queue, "term_months": "x"})
    assert invalid.status_code == 400
    assert "term_months" in invalid.context["form"].errors
    assert "sl_percent" in invalid.context["queues"].forms[0].errors
    assert contract.versions.count() == 1
    edit = {
        **queue_rows({"name": "Main", "sl_percent": "85", "sl_seconds": "15"}),
        "term_months": "24",
        "notice_days": "60",
        "start_date": "2031-01-01",
        "coverage": "24/7",
        "tax_treatment": "standard",
        "tax_percent": "19.00",
        "body": "Operators greet as Acme staff.",
    }
    assert client.post(f"/staff/contracts/{contract.pk}/", edit).status_code == 302
    assert contract.latest.number == 2
    assert contract.latest.queue_terms.main.sl_percent == 85
    with django_capture_on_commit_callbacks(execute=False):
        assert client.post(f"/staff/contracts/{contract.pk}/send/").status_code == 302
    contract.refresh_from_db()
    assert contract.state == "sent"
    assert client.get(f"/staff/contracts/{contract.pk}/v/2/pdf/")["Content-Type"] == "application/pdf"
    bad = client.post(f"/staff/contracts/{contract.pk}/payment/", {"amount": "-3", "currency": "EURO"})
    assert bad.status_code == 302
    assert not contract.payments.exists()
    accept(contract)
    today = timezone.localdate().isoformat()
    paid = {"amount": "490.00", "currency": "EUR", "paid_on": today, "reference": "BANK-1"}
    assert client.post(f"/staff/contracts/{contract.pk}/payment/", paid).status_code == 302
    contract.client.refresh_from_db()
    assert contract.client.status == "prospect"  # 490 of the fees with 19 % tax: not yet
    due = FirstInvoice.objects.get(contract=contract).balance_due
    assert due > 0
    rest = {"amount": str(due), "currency": "EUR", "paid_on": today, "reference": "BANK-2"}
    assert client.post(f"/staff/contracts/{contract.pk}/payment/", rest).status_code == 302
    contract.client.refresh_from_db()
    assert contract.client.status == "active"
    page = client.get(f"/staff/clients/{contract.client_id}/").content.decode()
    assert "client.provisioned" in page
    assert PhoneNumber.objects.get(tenant=contract.client).number in page


def test_back_office_bad_input_gives_404_or_a_message_never_500(db, tenants):
    contract, _ = sent_contract()
    client = logged_in(None, manager())
    for url in [
        "/staff/orders/999999/",
        "/staff/contracts/999999/",
        f"/staff/contracts/{contract.pk}/v/99/",
        f"/staff/contracts/{contract.pk}/v/99/pdf/",
        "/staff/clients/999999/",
    ]:
        assert client.get(url).status_code == 404, url
    assert client.post(f"/staff/clients/{contract.client_id}/explode/").status_code == 403
    assert (
        client.post(f"/staff/clients/{contract.client_id}/resume/").status_code == 302
    )  # not suspended: message
    assert client.post(f"/staff/orders/{contract.order_id}/contract/").status_code == 302
    assert client.post(f"/staff/contracts/{contract.pk}/send/").status_code == 302  # already sent: message
    assert client.get("/staff/orders/?state=<script>").status_code == 200


def test_a_client_never_sees_another_clients_contract_by_guessing_urls(db, tenants):
    contract_a, client_a = sent_contract()
    contracting.contract_revise(
        contract=contract_a, by=manager(), terms={"notice_days": 10}, body="A's secret"
    )
    contracting.contract_send(contract=contract_a, by=manager())
    _contract_b, client_b = sent_contract()
    portal_b = logged_in(client_b, contact(client_b))
    assert portal_b.get("/contract/v/1/").status_code == 200
    assert "A&#x27;s secret" not in portal_b.get("/contract/v/1/").content.decode()
    for url in ["/contract/v/2/", "/contract/v/2/pdf/"]:  # exists for A only
        assert portal_b.get(url).status_code == 404, url
    assert portal_b.post("/contract/v/2/accept/", {"confirm": "yes"}).status_code == 404
    assert ContractVersion.objects.get(contract=contract_a, number=2).state == "sent"
    assert client_b.name not in http(client_a).get("/contract/").content.decode()
    # B's session is worthless on A's host
    stolen = http(client_a)
    stolen.cookies["sessionid"] = portal_b.cookies["sessionid"].value
    assert stolen.get("/contract/v/2/").status_code == 302


def test_a_standing_tenant_without_a_contract_sees_none(db, tenants):
    sent_contract()
    admin = make_user(tenants.beta, role=Role.CLIENT_ADMIN)
    portal = logged_in(tenants.beta, admin)
    assert "No contract has been sent to you yet." in portal.get("/contract/").content.decode()
    assert portal.get("/contract/v/1/").status_code == 404
    assert portal.get("/contract/v/1/pdf/").status_code == 404


def test_drafts_are_not_shown_to_the_client(db, tenants):
    contract, client = sent_contract()
    contracting.contract_revise(contract=contract, by=manager(), terms={"notice_days": 10}, body="Draft idea")
    portal = logged_in(client, contact(client))
    assert portal.get("/contract/v/2/").status_code == 404
    assert "Version 2" not in portal.get("/contract/").content.decode()


def test_the_client_admin_accepts_in_the_portal_with_the_peer_address(db, tenants):
    contract, client = sent_contract()
    portal = logged_in(client, contact(client))
    page = portal.get("/contract/v/1/").content.decode()
    assert contract.latest.pdf_sha256 in page
    assert portal.get("/contract/v/1/pdf/").content == bytes(contract.latest.pdf)
    assert portal.post("/contract/v/1/accept/", {}).status_code == 302  # box not ticked: nothing happens
    assert not hasattr(ContractVersion.objects.get(pk=contract.latest.pk), "acceptance")
    response = portal.post("/contract/v/1/accept/", {"confirm": "yes"}, REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 302
    version = ContractVersion.objects.get(pk=contract.latest.pk)
    assert version.state == "accepted"
    assert version.acceptance.ip == "198.51.100.7"
    assert portal.post("/contract/v/1/accept/", {"confirm": "yes"}).status_code == 302  # twice: a message


@pytest.mark.parametrize("role", [Role.CLIENT_EDITOR, Role.CLIENT_VIEWER])
def test_editors_and_viewers_can_read_but_not_accept_or_manage_users(db, tenants, role):
    contract, client = sent_contract()
    user = make_user(client, role=role)
    portal = logged_in(client, user)
    assert portal.get("/contract/v/1/").status_code == 200
    assert "Accept the contract" not in portal.get("/contract/v/1/").content.decode()
    assert portal.get("/numbers/").status_code == 200
    assert portal.post("/contract/v/1/accept/", {"confirm": "yes"}).status_code == 403
    admin = contact(client)
    assert portal.post(f"/team/{admin.pk}/", {"role": "client_viewer"}).status_code == 403
    invite = {"email": "x@example.com", "first_name": "X", "role": "client_admin"}
    assert portal.post("/team/", invite).status_code == 403
    with tenant_context(client):
        assert User.objects.get(pk=admin.pk).role == Role.CLIENT_ADMIN
        assert not User.objects.filter(email="x@example.com").exists()
    assert ContractVersion.objects.get(pk=contract.latest.pk).state == "sent"


def test_a_client_admin_changes_roles_and_deactivates_colleagues_but_not_themselves(db, tenants):
    _, client = sent_contract()
    admin = contact(client)
    colleague = make_user(client, role=Role.CLIENT_VIEWER)
    portal = logged_in(client, admin)
    assert (
        portal.post(f"/team/{colleague.pk}/", {"role": "client_editor", "is_active": "on"}).status_code == 302
    )
    with tenant_context(client):
        assert User.objects.get(pk=colleague.pk).role == Role.CLIENT_EDITOR
    portal.post(f"/team/{colleague.pk}/", {"role": "client_editor"})
    with tenant_context(client):
        assert not User.objects.get(pk=colleague.pk).is_active
    response = http(client).post("/login/", {"username": colleague.username, "password": PASSWORD})
    assert response.status_code == 200  # deactivated: cannot log in
    portal.post(f"/team/{admin.pk}/", {"role": "client_viewer", "is_active": "on"})
    with tenant_context(client):
        assert User.objects.get(pk=admin.pk).role == Role.CLIENT_ADMIN
    assert portal.post(f"/team/{colleague.pk}/", {"role": "platform_admin"}).status_code == 302
    with tenant_context(client):
        assert User.objects.get(pk=colleague.pk).role == Role.CLIENT_EDITOR
    assert portal.post("/team/999999/", {"role": "client_viewer"}).status_code == 404


def test_the_numbers_page_lists_only_the_companys_own_numbers(db, tenants):
    add_numbers(3)
    by = manager()
    contract, client = sent_contract(by=by)
    accept(contract)
    pay(contract, by)
    own = PhoneNumber.objects.get(tenant=client).number
    assert own in logged_in(client, contact(client)).get("/numbers/").content.decode()
    beta_admin = make_user(tenants.beta, role=Role.CLIENT_ADMIN)
    assert own not in logged_in(tenants.beta, beta_admin).get("/numbers/").content.decode()


def test_the_portal_home_points_to_the_contract_awaiting_acceptance(db, tenants):
    contract, client = sent_contract()
    portal = logged_in(client, contact(client))
    assert "awaits your acceptance" in portal.get("/").content.decode()
    accept(contract)
    assert "starts once the first invoice is paid in full" in portal.get("/").content.decode()
