"""Issue 18 (7): per operator, what a client company may see of their work: the handle time (talk +
hold + wrap-up) on its own calls, the same in the portal, its CSV and the API. Occupancy needs the
operator's whole logged-in time, which is spent across companies, so it stays a platform figure
(back office); no company sees another's figures."""

from __future__ import annotations

import datetime as dt

from accounts.models import Role
from tests.conftest import logged_in, make_user
from tests.reporting.test_api import get, key_for
from tests.reporting.test_portal_reports import DAY, parse_csv, viewer, world  # noqa: F401 (fixtures)

PERIOD = {"start": DAY.isoformat(), "end": (DAY + dt.timedelta(days=1)).isoformat()}


def test_handle_time_per_operator_is_the_same_in_portal_csv_and_api(world, viewer, tenants):  # noqa: F811
    # Jane: 120 + 60 s of talk and 2 x 10 s of wrap-up on DAY; Bob: 50 + 10 on DAY, 90 + 10 the next day,
    # 30 + 5 on the outbound call.
    response = viewer.get("/reports/", PERIOD)
    by_operator = {o["name"]: o for o in response.context["report"]["by_operator"]}
    assert (by_operator["Jane D."]["handle_time"], by_operator["Bob S."]["handle_time"]) == ("200 s", "195 s")
    html = response.content.decode()
    assert "Handle time" in html and "200 s" in html and "195 s" in html
    assert "occupancy" not in html.lower().replace("their occupancy is not shown here", "")

    rows = parse_csv(viewer.get("/reports/statistics.csv", PERIOD))
    csv_days = {(r["day"], r["name"]): int(r["handle time s"]) for r in rows if r["by"] == "Operator"}
    assert csv_days == {
        (DAY.isoformat(), "Jane D."): 200,
        (DAY.isoformat(), "Bob S."): 95,
        ((DAY + dt.timedelta(days=1)).isoformat(), "Bob S."): 100,
    }

    _, key = key_for(tenants.alpha, "read_reports")
    api = get(
        tenants.alpha,
        "/api/v1/statistics/",
        key,
        granularity="day",
        dimension="operator",
        day_from=PERIOD["start"],
        day_to=PERIOD["end"],
    ).json()
    api_days = {(r["day"], r["key"]): r["handle_seconds"] for r in api["results"]}
    assert api_days == {
        (DAY.isoformat(), 901): 200,
        (DAY.isoformat(), 902): 95,
        ((DAY + dt.timedelta(days=1)).isoformat(), 902): 100,
    }
    for row in api["results"]:
        assert row["handle_seconds"] == row["talk_seconds"] + row["hold_seconds"] + row["wrapup_seconds"]


def test_another_company_sees_none_of_its_operators_handle_time(world, tenants):  # noqa: F811
    other = logged_in(tenants.beta, make_user(tenants.beta, role=Role.CLIENT_VIEWER))
    response = other.get("/reports/", PERIOD)
    assert response.context["report"]["by_operator"] == []
    assert "Jane D." not in response.content.decode()
    assert [r for r in parse_csv(other.get("/reports/statistics.csv", PERIOD)) if r["by"] == "Operator"] == []
    _, key = key_for(tenants.beta, "read_reports")
    api = get(tenants.beta, "/api/v1/statistics/", key, dimension="operator").json()
    assert api["results"] == []
    # Alpha's key on beta's host is refused.
    _, alpha_key = key_for(tenants.alpha, "read_reports")
    assert get(tenants.beta, "/api/v1/statistics/", alpha_key).status_code in {401, 403}
