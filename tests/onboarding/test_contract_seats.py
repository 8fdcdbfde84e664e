"""Issue 20: the contract carries, per queue, the client's service-level target, reserved seats and
maximum share; the client asks for its queues on the order form, the account manager settles them
on the contract form, the contract prints them (page and PDF), and provisioning and each later
acceptance put each row into the router's queue of that name. Versions of the first form (one flat
set of terms) still read and apply as they did."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.utils.html import escape
from pypdf import PdfReader

from telephony import routing
from telephony.models import Queue
from tenants import contracting, contracts
from tenants.models import AuditEvent, Contract, ContractVersion, Order
from tenants.onboarding import queue_terms_apply
from tenants.queue_terms import QueueTerms, clean_queue_rows, queue_terms
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


MAIN = {"name": "Main", "sl_percent": 90, "sl_seconds": 15, "reserved_seats": 3, "max_seats": 8,
        "max_share_percent": None}  # fmt: skip
SALES = {"name": "Sales", "sl_percent": 70, "sl_seconds": 60, "reserved_seats": 0, "max_seats": None,
         "max_share_percent": 25}  # fmt: skip


def test_one_reader_gives_old_flat_terms_as_the_main_queue_plus_the_service_level_for_others():
    old = {"sl_percent": 85, "sl_seconds": 30, "reserved_seats": 2, "max_seats": 5, "max_share_percent": None}
    found = queue_terms(old)
    assert found.rows == (QueueTerms("Main", 85, 30, 2, 5, None),) and found.others == (85, 30)
    assert found.legacy
    assert queue_terms({}).rows == (QueueTerms("Main", 80, 20),)  # nothing said: the standard
    new = queue_terms({"queues": [MAIN, SALES], "sl_percent": 50})  # rows win over stray flat keys
    assert [row.name for row in new.rows] == ["Main", "Sales"] and not new.legacy
    assert new.main == QueueTerms("Main", 90, 15, 3, 8, None)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "at least one queue"),
        ([{**MAIN, "max_seats": 2}], "The maximum (2) cannot be fewer than the reserved seats (3)."),
        ([{**MAIN, "sl_percent": 0}], "Queue 1 (sl_percent): Enter a number from 1 to 100."),
        ([{**MAIN, "sl_percent": 101}], "Queue 1 (sl_percent): Enter a number from 1 to 100."),
        ([MAIN, {**SALES, "max_share_percent": 101}], "Queue 2 (max_share_percent)"),
        ([MAIN, {**SALES, "name": " main "}], "the name 'main' is given twice"),
        ([{**MAIN, "name": ""}], "Name the queue"),
        ([{**MAIN, "reserved_seats": "two"}], "Enter a whole number."),
    ],
)
def test_bad_queue_rows_are_refused_with_a_clear_message_and_save_no_version(drafted, rows, message):
    with pytest.raises(ValidationError) as refused:
        contracting.contract_revise(contract=drafted, by=manager(), terms={"queues": rows}, body="")
    assert message in " ".join(refused.value.messages)
    assert drafted.latest.number == 1
    with pytest.raises(ValidationError, match="per queue"):
        contracting.contract_revise(contract=drafted, by=manager(), terms={"sl_percent": 90}, body="")


def test_a_drafted_contract_has_one_main_queue_without_reserved_seats_or_caps(drafted):
    terms = drafted.latest.terms
    assert terms["queues"] == [QueueTerms("Main").as_terms()] and "sl_percent" not in terms
    sentence = contracts.seats_sentence(terms)
    assert sentence.startswith("Operators are shared between the provider's clients")
    assert "Reserved operators" not in sentence and "at most" not in sentence
    page = logged_in(None, manager()).get(f"/staff/contracts/{drafted.pk}/").content.decode()
    assert 'name="queues-0-reserved_seats"' in page and 'name="queues-0-max_share_percent"' in page
    assert 'value="Main"' in page and 'name="queues-2-name"' in page  # two blank rows to add queues


def test_the_account_manager_sets_terms_per_queue_and_the_contract_prints_a_row_each(drafted):
    client = logged_in(None, manager())
    data = form_data(MAIN, {**SALES, "max_share_percent": 25, "max_seats": ""})
    assert client.post(f"/staff/contracts/{drafted.pk}/", data).status_code == 302
    version = drafted.latest
    assert version.number == 2
    assert version.terms["queues"] == [MAIN, SALES]
    sentence = contracts.seats_sentence(version.terms)
    assert "Reserved operators of a queue" in sentence and "at most its cap" in sentence
    page = client.get(f"/staff/contracts/{drafted.pk}/v/2/").content.decode()
    assert "90% within 15 seconds" in page and "70% within 60 seconds" in page
    assert "8 operators" in page and "25 % of the pool" in page
    text = pdf_text(contracts.render_pdf(version=version))
    assert "Main 90% within 15 seconds 3 8 operators" in text
    assert "Sales 70% within 60 seconds none 25 % of the pool" in text
    # The form shows the rows again, a Delete box each; deleting Sales keeps Main only.
    drop = {**form_data(MAIN, SALES), "queues-1-DELETE": "on"}
    response = client.post(f"/staff/contracts/{drafted.pk}/", drop)
    assert response.status_code == 302, (response.context["form"].errors, response.context["queues"].errors)
    assert [row["name"] for row in drafted.latest.terms["queues"]] == ["Main"]


@pytest.mark.parametrize(
    ("rows", "where", "message"),
    [
        ([{**MAIN, "max_seats": 2}], 0, "The maximum (2) cannot be fewer than the reserved seats (3)."),
        ([{**MAIN, "max_share_percent": 101}], 0, "Ensure this value is less than or equal to 100."),
        ([{**MAIN, "max_share_percent": 0}], 0, "Ensure this value is greater than or equal to 1."),
        ([{**MAIN, "sl_percent": 0}], 0, "Ensure this value is greater than or equal to 1."),
        ([{**MAIN, "reserved_seats": -1}], 0, "Ensure this value is greater than or equal to 0."),
        ([{**MAIN, "reserved_seats": "two"}], 0, "Enter a whole number."),
        ([MAIN, {**SALES, "name": "MAIN"}], None, "The queue 'MAIN' is named twice"),
        ([{"name": ""}], None, "Name at least one queue"),
        ([MAIN, {**SALES, "name": ""}], 1, "Name the queue"),
    ],
)
def test_bad_queue_rows_on_the_contract_form_are_400s_and_save_no_version(drafted, rows, where, message):
    clean = [{k: "" if v is None else v for k, v in row.items()} for row in rows]
    response = logged_in(None, manager()).post(f"/staff/contracts/{drafted.pk}/", form_data(*clean))
    assert response.status_code == 400 and escape(message) in response.content.decode()
    queues = response.context["queues"]
    errors = queues.non_form_errors() if where is None else queues.forms[where].errors.as_text()
    assert message in "".join(errors)
    assert drafted.latest.number == 1


def test_provisioning_creates_the_named_queues_and_a_later_acceptance_applies_each_row(db, tenants):
    add_numbers(1)
    by = manager()
    contract, company = sent_contract(by=by)
    contracting.contract_revise(contract=contract, by=by, body="", terms={"queues": [MAIN, SALES]})
    contracting.contract_send(contract=contract, by=by)
    accept(contract)
    pay(contract, by)
    main = Queue.objects.get(tenant=company, is_default=True)
    sales = Queue.objects.get(tenant=company, name="Sales")
    assert (main.name, main.sl_target_percent, main.service_level_seconds) == ("Main", 90, 15)
    assert (main.reserved_seats, main.max_seats, main.max_share_percent) == (3, 8, None)
    assert (sales.is_default, sales.sl_target_percent, sales.service_level_seconds) == (False, 70, 60)
    assert (sales.reserved_seats, sales.max_seats, sales.max_share_percent) == (0, None, 25)
    provisioned = AuditEvent.objects.get(action="client.provisioned", object_id=str(company.pk))
    assert provisioned.after["queues"] == ["Main", "Sales"]
    routing.rules_for([main.pk, sales.pk])  # the router's kept rules, warm
    # A queue the company made itself, which the contract does not name.
    own = Queue.objects.create(tenant=company, name="VIP", sl_target_percent=95, reserved_seats=1)
    # A later version, accepted: Sales changes, Support is new, Main is as it was; VIP keeps its own.
    support = {"name": "Support", "sl_percent": 80, "sl_seconds": 30, "reserved_seats": 2, "max_seats": 4,
               "max_share_percent": None}  # fmt: skip
    terms = {"queues": [MAIN, {**SALES, "sl_percent": 75, "max_share_percent": None}, support]}
    contracting.contract_revise(contract=contract, by=by, body="", terms=terms)
    contracting.contract_send(contract=contract, by=by)
    events = AuditEvent.objects.filter(action="queue.terms").count()
    accept(contract)
    for queue in (main, sales, own):
        queue.refresh_from_db()
    assert (main.sl_target_percent, main.reserved_seats, main.max_seats) == (90, 3, 8)
    assert (sales.sl_target_percent, sales.max_share_percent) == (75, None)
    assert (own.sl_target_percent, own.reserved_seats) == (95, 1)
    created = Queue.objects.get(tenant=company, name="Support")
    assert (created.is_default, created.reserved_seats, created.max_seats) == (False, 2, 4)
    # One event per queue changed or created; none for Main (unchanged) or VIP (not named).
    changed = AuditEvent.objects.filter(action="queue.terms").order_by("pk")[events:]
    assert sorted(int(e.object_id) for e in changed) == sorted([sales.pk, created.pk])
    event = next(e for e in changed if int(e.object_id) == sales.pk)
    assert (event.before["max_share_percent"], event.after["max_share_percent"]) == (25, None)
    page = logged_in(None, by).get(f"/backoffice/contracts/{contract.pk}/routing/").content.decode()
    assert 'id="contract-queue-terms"' in page
    assert '<th scope="row">Support</th><td>80 % in 30 s</td>' in page and "4 operators" in page
    rules = routing.rules_for([sales.pk, created.pk])
    assert rules[sales.pk].terms.sl_percent == 75 and rules[sales.pk].terms.max_percent is None
    assert rules[created.pk].terms.reserved_seats == 2


def test_an_old_flat_version_still_applies_to_the_default_queue_and_its_service_level_to_others(db, tenants):
    add_numbers(1)
    by = manager()
    contract = contracting.contract_draft(order=submit_order(), by=by)
    flat = {
        "sl_percent": 85,
        "sl_seconds": 30,
        "reserved_seats": 2,
        "max_seats": None,
        "max_share_percent": 20,
    }
    ContractVersion.objects.filter(pk=contract.latest.pk).update(  # a draft of the first form
        terms={**{k: v for k, v in contract.latest.terms.items() if k != "queues"}, **flat}
    )
    contracting.contract_send(contract=contract, by=by)
    contract.refresh_from_db()
    company = contract.client
    accept(contract)
    pay(contract, by)
    main = Queue.objects.get(tenant=company, is_default=True)
    assert (main.name, main.sl_target_percent, main.reserved_seats, main.max_share_percent) == (
        "Main",
        85,
        2,
        20,
    )
    other = Queue.objects.create(tenant=company, name="Sales")
    main.name = "Hotline"  # renamed by the company: still its default queue
    main.save()
    contracting.contract_revise(contract=contract, by=by, body="", terms={"deposit": "0.00"})  # flat stays
    contracting.contract_send(contract=contract, by=by)
    assert contract.latest.queue_terms.legacy
    accept(contract)
    other.refresh_from_db()
    assert (other.sl_target_percent, other.service_level_seconds, other.reserved_seats) == (85, 30, 0)
    assert not Queue.objects.filter(tenant=company, name="Main").exists()


def test_the_order_form_asks_for_several_queues_and_the_draft_proposes_them(db, tenants):
    slug = unique_slug()
    rows = {
        "queues-0-name": "Main", "queues-0-sl_percent": "90", "queues-0-sl_seconds": "15",
        "queues-0-reserved_seats": "3", "queues-1-name": "Sales", "queues-1-sl_percent": "70",
        "queues-1-sl_seconds": "60",
    }  # fmt: skip
    assert http(None).post("/order/", order_post(slug, **rows)).status_code == 302
    order = Order.objects.get(portal_slug=slug)
    assert [q["name"] for q in order.queues] == ["Main", "Sales"]
    page = logged_in(None, manager()).get(f"/staff/orders/{order.pk}/").content.decode()
    assert "Main: 90 % in 15 s, 3 reserved; Sales: 70 % in 60 s" in page
    terms = contracting.contract_draft(order=order, by=manager()).latest.terms
    assert terms["queues"] == [
        {**MAIN, "max_seats": None},
        {"name": "Sales", "sl_percent": 70, "sl_seconds": 60, "reserved_seats": 0, "max_seats": None,
         "max_share_percent": None},
    ]  # fmt: skip
    # Left as it comes: the standard main queue.
    plain = order_post(unique_slug())
    assert http(None).post("/order/", plain).status_code == 302
    order = Order.objects.get(token=plain["token"])
    terms = contracting.contract_draft(order=order, by=manager()).latest.terms
    assert terms["queues"] == [QueueTerms("Main").as_terms()]
    page = http(None).get("/order/").content.decode()
    assert 'name="queues-0-name"' in page and 'name="queues-2-sl_percent"' in page
    catalogue = http(None).get("/services/").content.decode()
    assert "Service level and operators" in catalogue
    assert "80 % of calls answered within 20 seconds" in catalogue and "for each queue" in catalogue


def test_an_order_of_the_first_form_drafts_its_one_service_level_as_the_main_queue(db, tenants):
    order = submit_order()
    Order.objects.filter(pk=order.pk).update(queues=[], sl_percent=95, sl_seconds=10, reserved_seats=1)
    order.refresh_from_db()
    assert contracts.order_queue_terms(order) == [QueueTerms("Main", 95, 10, 1)]


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        (
            {"queues-0-sl_percent": "90"},
            ("sl_seconds", 0),
            "Give both the percent and the seconds, or neither",
        ),
        (
            {"queues-0-sl_seconds": "30"},
            ("sl_percent", 0),
            "Give both the percent and the seconds, or neither",
        ),
        (
            {"queues-0-sl_percent": "0", "queues-0-sl_seconds": "20"},
            ("sl_percent", 0),
            "greater than or equal to 1",
        ),
        (
            {"queues-0-sl_percent": "80", "queues-0-sl_seconds": "2"},
            ("sl_seconds", 0),
            "greater than or equal to 5",
        ),
        ({"queues-0-reserved_seats": "501"}, ("reserved_seats", 0), "less than or equal to 500"),
        ({"queues-0-reserved_seats": "-2"}, ("reserved_seats", 0), "greater than or equal to 0"),
        ({"queues-1-sl_percent": "80", "queues-1-sl_seconds": "20"}, ("name", 1), "Name the queue"),
        ({"queues-1-name": "main"}, (None, None), "The queue 'main' is named twice"),
    ],
)
def test_a_bad_queue_on_the_order_form_is_a_field_error_and_saves_nothing(
    db, tenants, change, where, message
):
    response = http(None).post("/order/", order_post(unique_slug(), **change))
    assert response.status_code == 400
    field, row = where
    queues = response.context["queues"]
    errors = queues.non_form_errors() if field is None else queues.forms[row].errors[field]
    assert message in " ".join(errors)
    assert not Order.objects.exists()


def test_clean_queue_rows_tidies_names_and_fills_the_optional_terms():
    assert clean_queue_rows([{"name": "  Sales   desk ", "sl_percent": 70, "sl_seconds": 40}]) == [
        {"name": "Sales desk", "sl_percent": 70, "sl_seconds": 40, "reserved_seats": 0, "max_seats": None,
         "max_share_percent": None}
    ]  # fmt: skip


def _live_on_a_flat_contract(by) -> tuple[Contract, object]:
    """A live company whose contract is of the first form (flat terms), its default queue Main."""
    add_numbers(1)
    contract = contracting.contract_draft(order=submit_order(), by=by)
    flat = {
        "sl_percent": 85,
        "sl_seconds": 30,
        "reserved_seats": 2,
        "max_seats": None,
        "max_share_percent": None,
    }
    ContractVersion.objects.filter(pk=contract.latest.pk).update(
        terms={**{k: v for k, v in contract.latest.terms.items() if k != "queues"}, **flat}
    )
    contracting.contract_send(contract=contract, by=by)
    contract.refresh_from_db()
    accept(contract)
    pay(contract, by)
    return contract, contract.client


def test_the_first_row_of_a_per_queue_version_applies_to_the_default_queue_whatever_its_name(db, tenants):
    """Before: an old flat contract shows its row as Main; on a company whose default queue is
    Reception, accepting the per-queue version created an empty non-default queue Main and left
    Reception on the old terms."""
    by = manager()
    contract, company = _live_on_a_flat_contract(by)
    reception = Queue.objects.get(tenant=company, is_default=True)
    reception.name = "Reception"
    reception.save()
    # The contract form's first row is the default queue under its real name, not the flat "Main".
    page = logged_in(None, by).get(f"/staff/contracts/{contract.pk}/")
    assert page.context["queues"].forms[0].initial["name"] == "Reception"
    # A version whose first row is still called Main (saved before, or renamed by the manager).
    contracting.contract_revise(contract=contract, by=by, body="", terms={"queues": [MAIN, SALES]})
    contracting.contract_send(contract=contract, by=by)
    accept(contract)
    reception.refresh_from_db()
    assert reception.is_default and reception.name == "Main"  # renamed as the contract calls it
    assert (reception.sl_target_percent, reception.service_level_seconds, reception.reserved_seats) == (
        90,
        15,
        3,
    )
    assert reception.max_seats == 8
    assert list(Queue.objects.filter(tenant=company).order_by("pk").values_list("name", "is_default")) == [
        ("Main", True),
        ("Sales", False),
    ]
    event = AuditEvent.objects.filter(action="queue.terms", object_id=str(reception.pk)).latest("pk")
    assert (event.before["name"], event.after["name"]) == ("Reception", "Main")


def test_the_form_keeps_the_default_queues_name_and_acceptance_keeps_it(db, tenants):
    by = manager()
    contract, company = _live_on_a_flat_contract(by)
    Queue.objects.filter(tenant=company, is_default=True).update(name="Reception")
    response = logged_in(None, by).post(
        f"/staff/contracts/{contract.pk}/", form_data({**MAIN, "name": "Reception", "max_share_percent": ""})
    )
    assert response.status_code == 302
    contracting.contract_send(contract=contract, by=by)
    accept(contract)
    assert list(
        Queue.objects.filter(tenant=company).values_list("name", "is_default", "sl_target_percent")
    ) == [("Reception", True, 90)]


def test_two_queues_whose_names_differ_only_in_case_are_refused_not_merged(db, tenants):
    by = manager()
    contract, company = _live_on_a_flat_contract(by)
    Queue.objects.create(tenant=company, name="Sales")
    Queue.objects.create(tenant=company, name="SALES")
    contracting.contract_revise(contract=contract, by=by, body="", terms={"queues": [MAIN, SALES]})
    with pytest.raises(
        contracting.OnboardingError, match="either of the company's queues 'Sales' and 'SALES'"
    ):
        contracting.contract_send(contract=contract, by=by)  # refused when sent, not at acceptance
    assert contract.latest.state == ContractVersion.State.DRAFT
    with pytest.raises(contracting.OnboardingError, match="'Sales' and 'SALES'"):
        queue_terms_apply(client=company, terms=contract.latest.terms, actor=by)
    assert set(
        Queue.objects.filter(tenant=company, name__iexact="sales").values_list("sl_target_percent", flat=True)
    ) == {80}


def test_a_first_row_named_like_another_queue_is_refused_when_sent(db, tenants):
    """The first row is the default queue: naming it like another of the company's queues would
    leave two queues of one name, so the version is refused when sent, naming both."""
    by = manager()
    contract, company = _live_on_a_flat_contract(by)
    Queue.objects.create(tenant=company, name="Sales")
    contracting.contract_revise(
        contract=contract, by=by, body="", terms={"queues": [{**MAIN, "name": "sales"}]}
    )
    with pytest.raises(
        contracting.OnboardingError, match="first queue 'sales' is the main queue \\('Main'\\)"
    ):
        contracting.contract_send(contract=contract, by=by)
    assert contract.latest.state == ContractVersion.State.DRAFT
