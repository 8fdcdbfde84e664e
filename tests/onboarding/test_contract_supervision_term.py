"""Issue 17 (R21): whether the client company sees live supervision in its calls' details is a
contract term, off by default, set on the contract form and printed on the contract (page and PDF)."""

from __future__ import annotations

import pytest

from tenants import contracting, contracts
from tenants.models import Contract
from tests.conftest import logged_in
from tests.onboarding.helpers import manager, submit_order
from tests.onboarding.test_contract_billing_terms import pdf_text
from tests.onboarding.test_contract_tax import form_data


@pytest.fixture
def drafted(db, tenants) -> Contract:
    return contracting.contract_draft(order=submit_order(), by=manager())


def test_supervision_is_hidden_from_the_client_unless_the_contract_says_so(drafted):
    assert drafted.latest.terms["supervision_visible_to_client"] is False
    client = logged_in(None, manager())
    page = client.get(f"/staff/contracts/{drafted.pk}/").content.decode()
    assert 'name="supervision_visible_to_client"' in page
    assert "the provider keeps a record of each time" in page
    assert (
        client.post(
            f"/staff/contracts/{drafted.pk}/", form_data(supervision_visible_to_client="on")
        ).status_code
        == 302
    )
    version = drafted.latest
    assert version.terms["supervision_visible_to_client"] is True
    sentence = contracts.supervision_sentence(version.terms)
    assert "shown in the call's detail to the client" in sentence
    assert sentence in pdf_text(contracts.render_pdf(version=version))
    assert sentence in client.get(f"/staff/contracts/{drafted.pk}/v/{version.number}/").content.decode()
