"""Issue 18: whether suspended days are billed and how long the evidence behind the invoices is
kept are contract terms the account manager sets on the contract form, printed on the contract
(page and PDF) and read by billing and the evidence purge."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from tenants import contracting, contracts
from tenants.models import Contract
from tests.conftest import logged_in
from tests.onboarding.helpers import manager, submit_order
from tests.onboarding.test_contract_tax import form_data


@pytest.fixture
def drafted(db, tenants) -> Contract:
    return contracting.contract_draft(order=submit_order(), by=manager())


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def test_a_drafted_contract_proposes_the_defaults_and_prints_them(drafted):
    terms = drafted.latest.terms
    assert (terms["suspended_days_billed"], terms["evidence_retention_months"]) == (False, 24)
    page = logged_in(None, manager()).get(f"/staff/contracts/{drafted.pk}/").content.decode()
    assert 'name="suspended_days_billed"' in page and 'name="evidence_retention_months" value="24"' in page
    assert "A day on which the service is suspended throughout is not billed." in page
    assert "The events behind each invoice line are kept for 24 months." in page


def test_the_account_manager_sets_both_terms_and_the_contract_prints_them(drafted):
    client = logged_in(None, manager())
    data = form_data(suspended_days_billed="on", evidence_retention_months="36")
    assert client.post(f"/staff/contracts/{drafted.pk}/", data).status_code == 302
    version = drafted.latest
    assert version.number == 2
    assert (version.terms["suspended_days_billed"], version.terms["evidence_retention_months"]) == (True, 36)
    sentence = (
        "Monthly fees run while the service is suspended (suspended days are billed). "
        "The events behind each invoice line are kept for 36 months. Call recordings are kept for 12 "
        "months, then deleted; each play, download and deletion is logged."
    )
    assert contracts.suspension_and_evidence_sentence(version.terms) == sentence
    page = client.get(f"/staff/contracts/{drafted.pk}/v/2/").content.decode()
    assert sentence in page
    assert sentence in pdf_text(contracts.render_pdf(version=version))
    # Unticked and left empty: not billed, the default retention.
    assert (
        client.post(f"/staff/contracts/{drafted.pk}/", form_data(evidence_retention_months="")).status_code
        == 302
    )
    assert (
        drafted.latest.terms["suspended_days_billed"],
        drafted.latest.terms["evidence_retention_months"],
    ) == (
        False,
        24,
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("6", "Ensure this value is greater than or equal to 12."),
        ("121", "Ensure this value is less than or equal to 120."),
        ("two", "Enter a whole number."),
    ],
)
def test_a_bad_retention_is_a_form_error_and_saves_no_version(drafted, value, message):
    client = logged_in(None, manager())
    response = client.post(f"/staff/contracts/{drafted.pk}/", form_data(evidence_retention_months=value))
    assert response.status_code == 400 and message in response.content.decode()
    assert drafted.latest.number == 1


def test_the_certification_validity_is_a_contract_term_on_the_form_page_and_pdf(drafted):
    """R14: how long an operator's pass of the client's quiz is valid, set per contract."""
    assert drafted.latest.terms["certification_valid_days"] == 180
    client = logged_in(None, manager())
    assert (
        'name="certification_valid_days" value="180"'
        in client.get(f"/staff/contracts/{drafted.pk}/").content.decode()
    )
    assert (
        client.post(f"/staff/contracts/{drafted.pk}/", form_data(certification_valid_days="90")).status_code
        == 302
    )
    version = drafted.latest
    assert version.terms["certification_valid_days"] == 90
    sentence = contracts.certification_sentence(version.terms)
    assert "a pass is valid for 90 days" in sentence and "major version" in sentence
    assert sentence in client.get(f"/staff/contracts/{drafted.pk}/v/{version.number}/").content.decode()
    assert sentence in pdf_text(contracts.render_pdf(version=version))
    refused = client.post(f"/staff/contracts/{drafted.pk}/", form_data(certification_valid_days="3"))
    assert refused.status_code == 400 and drafted.latest.number == version.number


def test_the_recording_retention_is_a_contract_term_printed_in_the_contract(drafted):
    assert drafted.latest.terms["recording_retention_months"] == 12
    client = logged_in(None, manager())
    page = client.get(f"/staff/contracts/{drafted.pk}/").content.decode()
    assert 'name="recording_retention_months" value="12"' in page
    assert (
        client.post(f"/staff/contracts/{drafted.pk}/", form_data(recording_retention_months="6")).status_code
        == 302
    )
    assert drafted.latest.terms["recording_retention_months"] == 6
    printed = pdf_text(contracts.render_pdf(version=drafted.latest))
    assert "Call recordings are kept for 6 months, then deleted" in printed
    refused = client.post(f"/staff/contracts/{drafted.pk}/", form_data(recording_retention_months="0"))
    assert refused.status_code == 400 and "greater than or equal to 1" in refused.content.decode()
