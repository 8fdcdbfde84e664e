"""Issue 20: the contract carries the client's service-level target, reserved seats and maximum
share; the account manager sets them on the contract form, the contract prints them (page and
PDF), and provisioning and each later acceptance put them into the router's queue rules."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from telephony import routing
from telephony.models import Queue
from tenants import contracting, contracts
from tenants.models import AuditEvent, Contract, Order
from tests.conftest import http, logged_in
from tests.onboarding.helpers import (
    accept,
    add_numbers,
    manager,
    order_post,
    pay,
    sent_contract,
    submit_order,
    unique_slug,
)
from tests.onboarding.test_contract_tax import form_data


@pytest.fixture
def drafted(db, tenants) -> Contract:
    return contracting.contract_draft(order=submit_order(), by=manager())


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def test_a_drafted_contract_shares_the_pool_without_reserved_seats_or_caps(drafted):
    terms = drafted.latest.terms
    assert (terms["reserved_seats"], terms["max_seats"], terms["max_share_percent"]) == (0, None, None)
    sentence = contracts.seats_sentence(terms)
    assert sentence.startswith("Operators are shared between the provider's clients")
    assert "reserved" not in sentence and "at most" not in sentence
    page = logged_in(None, manager()).get(f"/staff/contracts/{drafted.pk}/").content.decode()
    assert 'name="reserved_seats"' in page and 'name="max_share_percent"' in page
    assert sentence.replace("'", "&#x27;") in page


def test_the_account_manager_sets_the_seats_and_the_contract_prints_them(drafted):
    client = logged_in(None, manager())
    data = form_data(sl_percent=90, sl_seconds=15, reserved_seats=4, max_seats=6, max_share_percent=20)
    assert client.post(f"/staff/contracts/{drafted.pk}/", data).status_code == 302
    version = drafted.latest
    assert version.number == 2
    assert {k: version.terms[k] for k in ("sl_percent", "sl_seconds", "reserved_seats", "max_seats",
                                          "max_share_percent")} == {
        "sl_percent": 90, "sl_seconds": 15, "reserved_seats": 4, "max_seats": 6, "max_share_percent": 20,
    }  # fmt: skip
    sentence = contracts.seats_sentence(version.terms)
    assert "4 operators are reserved for the client" in sentence
    assert "at most 6 operators or 20% of the operators logged in at once (the lower of the two)" in sentence
    page = client.get(f"/staff/contracts/{drafted.pk}/v/2/").content.decode()
    assert "4 operators are reserved for the client" in page
    text = pdf_text(contracts.render_pdf(version=version))
    assert "4 operators are reserved for the client" in text
    assert "90% of offered calls within 15 seconds" in text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_seats", "2", "The maximum (2) cannot be fewer than the reserved seats (4)."),
        ("max_share_percent", "101", "Ensure this value is less than or equal to 100."),
        ("max_share_percent", "0", "Ensure this value is greater than or equal to 1."),
        ("reserved_seats", "-1", "Ensure this value is greater than or equal to 0."),
        ("reserved_seats", "two", "Enter a whole number."),
    ],
)
def test_bad_seats_are_form_errors_and_save_no_version(drafted, field, value, message):
    client = logged_in(None, manager())
    data = form_data(**{"reserved_seats": 4, field: value})
    response = client.post(f"/staff/contracts/{drafted.pk}/", data)
    assert response.status_code == 400 and message in response.content.decode()
    assert drafted.latest.number == 1


def test_provisioning_and_each_later_acceptance_put_the_terms_into_the_router(db, tenants):
    add_numbers(1)
    by = manager()
    contract, company = sent_contract(by=by)
    contracting.contract_revise(
        contract=contract, by=by, body="",
        terms={"sl_percent": 90, "sl_seconds": 15, "reserved_seats": 3, "max_seats": 8,
               "max_share_percent": None},
    )  # fmt: skip
    contracting.contract_send(contract=contract, by=by)
    accept(contract)
    pay(contract, by)
    queue = Queue.objects.get(tenant=company, is_default=True)
    assert (queue.sl_target_percent, queue.service_level_seconds) == (90, 15)
    assert (queue.reserved_seats, queue.max_seats, queue.max_share_percent) == (3, 8, None)
    routing.rules_for([queue.pk])  # the router's kept rules, warm
    # A second queue of the company gets the service level, not the main line's seats.
    other = Queue.objects.create(tenant=company, name="Sales")
    # A later version, accepted: the live company's queues change at once, with an audit event each.
    contracting.contract_revise(
        contract=contract, by=by, body="",
        terms={"sl_percent": 85, "sl_seconds": 30, "reserved_seats": 0, "max_seats": None,
               "max_share_percent": 25},
    )  # fmt: skip
    contracting.contract_send(contract=contract, by=by)
    accept(contract)
    queue.refresh_from_db()
    other.refresh_from_db()
    assert (queue.sl_target_percent, queue.service_level_seconds, queue.reserved_seats) == (85, 30, 0)
    assert (queue.max_seats, queue.max_share_percent) == (None, 25)
    assert (other.sl_target_percent, other.service_level_seconds, other.reserved_seats) == (85, 30, 0)
    assert other.max_share_percent is None
    terms = routing.rules_for([queue.pk])[queue.pk].terms
    assert (terms.sl_percent, terms.sl_seconds, terms.max_percent) == (85, 30, 25)
    event = AuditEvent.objects.filter(action="queue.terms", object_id=str(queue.pk)).latest("pk")
    assert event.before["max_share_percent"] is None and event.after["max_share_percent"] == 25


def test_the_order_form_asks_for_a_service_level_and_reserved_seats_and_the_draft_proposes_them(db, tenants):
    slug = unique_slug()
    data = order_post(slug, sl_percent="90", sl_seconds="15", reserved_seats="3")
    assert http(None).post("/order/", data).status_code == 302
    order = Order.objects.get(portal_slug=slug)
    assert (order.sl_percent, order.sl_seconds, order.reserved_seats) == (90, 15, 3)
    terms = contracting.contract_draft(order=order, by=manager()).latest.terms
    assert (terms["sl_percent"], terms["sl_seconds"], terms["reserved_seats"]) == (90, 15, 3)
    # Left empty: the standard terms.
    plain = order_post(unique_slug())
    assert http(None).post("/order/", plain).status_code == 302
    order = Order.objects.get(token=plain["token"])
    terms = contracting.contract_draft(order=order, by=manager()).latest.terms
    assert (terms["sl_percent"], terms["sl_seconds"], terms["reserved_seats"]) == (80, 20, 0)
    catalogue = http(None).get("/services/").content.decode()
    assert "Service level and operators" in catalogue
    assert "80 % of calls answered within 20 seconds" in catalogue


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"sl_percent": "90"}, "sl_seconds", "Give both the percent and the seconds, or neither"),
        ({"sl_seconds": "30"}, "sl_percent", "Give both the percent and the seconds, or neither"),
        ({"sl_percent": "40", "sl_seconds": "20"}, "sl_percent", "greater than or equal to 50"),
        ({"sl_percent": "80", "sl_seconds": "2"}, "sl_seconds", "greater than or equal to 5"),
        ({"reserved_seats": "501"}, "reserved_seats", "less than or equal to 500"),
        ({"reserved_seats": "-2"}, "reserved_seats", "greater than or equal to 0"),
    ],
)
def test_a_bad_service_level_on_the_order_form_is_a_field_error_and_saves_nothing(db, tenants, change, field,
                                                                                  message):  # fmt: skip
    response = http(None).post("/order/", order_post(unique_slug(), **change))
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not Order.objects.exists()
