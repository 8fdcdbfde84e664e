"""``number`` means one thing: the calls from or to a number containing the digits typed, in the
portal's call list, its export and the API (the back office has no call list with this filter)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django_tenants.utils import tenant_context

from accounts.models import Role
from reporting.filters import NUMBER_HELP
from reporting.keys import api_key_create
from tests.conftest import http, logged_in, make_user
from tests.factories import CallFactory

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
NUMBERS = [
    ("+15550100001", "+15550199001"),
    ("+15550100002", "+15550199001"),
    ("+4930123456", "+15550199002"),
    ("+15550177777", "+4930555000"),
]


@pytest.fixture
def calls(db, tenants):
    with tenant_context(tenants.alpha):
        made = {
            CallFactory(started_at=T0 + dt.timedelta(minutes=i), from_number=caller, to_number=callee).pk: (
                caller,
                callee,
            )
            for i, (caller, callee) in enumerate(NUMBERS)
        }
        _, key = api_key_create(name="crm", scopes=["read_calls"])
    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))
    return made, key, viewer


@pytest.mark.parametrize(
    "typed",
    ["+15550100001", "555 0100", "(555) 0100-002", "4930", "0199001", "+1", "99", "0000000000", "+"],
)
def test_the_portal_its_export_and_the_api_find_the_same_calls(calls, tenants, typed):
    made, key, viewer = calls
    expected = {
        pk for pk, pair in made.items() if any("".join(filter(str.isdigit, typed)) in n for n in pair)
    }

    page = viewer.get("/reports/calls/", {"number": typed})
    assert page.status_code == 200
    portal = {call.pk for call in page.context["page"]}
    export = viewer.get("/reports/calls/export.csv", {"number": typed})
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    exported = {(row["from"], row["to"]) for row in rows}
    api = http(tenants.alpha).get("/api/v1/calls/", {"number": typed}, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.status_code == 200
    found = {call["id"] for call in api.json()["results"]}

    assert portal == found == expected
    assert exported == {made[pk] for pk in expected}


def test_a_number_with_letters_is_refused_by_the_portal_and_the_api_alike(calls, tenants):
    _, key, viewer = calls
    assert viewer.get("/reports/calls/", {"number": "abc"}).status_code == 400
    api = http(tenants.alpha).get("/api/v1/calls/", {"number": "abc"}, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.status_code == 400 and "number" in api.json()


def test_the_api_documents_that_number_means_contains(db, tenants):
    schema = http(tenants.alpha).get("/api/v1/schema/", {"format": "json"}).json()
    parameters = schema["paths"]["/api/v1/calls/"]["get"]["parameters"]
    number = next(p for p in parameters if p["name"] == "number")
    assert number["description"] == NUMBER_HELP and "contain" in NUMBER_HELP
