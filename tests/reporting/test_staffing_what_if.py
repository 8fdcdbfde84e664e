"""The staffing page's what-if: figures typed in give the operators needed by Erlang C and Erlang A
beside the forecast, and the service with a few operators fewer or more; bad figures get a 400."""

from __future__ import annotations

import re

import pytest

from accounts.models import Role
from reporting import staffing
from reporting.what_if import what_if
from tests.conftest import logged_in, make_user

PAGE = "/backoffice/reports/staffing/"


@pytest.fixture
def supervisor(db, tenants):
    return logged_in(None, make_user(None, role=Role.SUPERVISOR))


def test_typed_figures_give_the_operators_needed_beside_the_forecast(supervisor):
    want = staffing.agents_needed(
        calls=40, interval_seconds=900, aht_seconds=240, target_sl=0.8, threshold_seconds=20
    )
    want_a = staffing.agents_needed_with_abandonment(
        calls=40,
        interval_seconds=900,
        aht_seconds=240,
        patience_seconds=90,
        target_sl=0.8,
        threshold_seconds=20,
    )
    response = supervisor.get(
        PAGE,
        {"whatif-calls": "40", "whatif-aht_seconds": "240", "whatif-sl_percent": "80",
         "whatif-sl_seconds": "20", "whatif-patience_seconds": "90"},
    )  # fmt: skip
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<strong id="whatif-needed">{want.agents}</strong>' in html
    assert f'<strong id="whatif-needed-a">{want_a.agents}</strong>' in html
    assert 'id="staffing"' in html  # the forecast (today, the whole pool) is still beside it
    rows = re.findall(r'<tr(?: class="needed")?><td class="num">(\d+)</td>', html)
    assert str(want.agents) in rows and len(rows) >= 5


def test_the_what_if_table_shows_overload_below_the_traffic():
    result = what_if(calls=40, aht_seconds=240, sl_percent=80, sl_seconds=20, patience_seconds=None)
    assert round(result.erlangs, 2) == 10.67
    by_agents = {row.agents: row for row in result.rows}
    assert by_agents[result.needed].service_level >= 0.8
    assert by_agents[result.needed - 1].service_level < 0.8
    assert result.needed_a is None and by_agents[result.needed].abandon_a is None
    assert what_if(calls=0, aht_seconds=240, sl_percent=80, sl_seconds=20, patience_seconds=None).needed == 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"whatif-calls": "-1"}, "greater than or equal to 0"),
        ({"whatif-calls": "many"}, "Enter a number"),
        ({"whatif-calls": "20000", "whatif-aht_seconds": "7200"}, "More than 2000 operators"),
        ({"whatif-sl_percent": "100"}, "less than or equal to 99"),
    ],
)
def test_bad_what_if_figures_are_refused_with_a_message(supervisor, params, message):
    typed = {
        "whatif-calls": "10",
        "whatif-aht_seconds": "180",
        "whatif-sl_percent": "80",
        "whatif-sl_seconds": "20",
    }
    response = supervisor.get(PAGE, {**typed, **params})
    assert response.status_code == 400 and message in response.content.decode()


def test_operators_and_client_staff_cannot_use_it(db, tenants):
    operator = logged_in(None, make_user(None, role=Role.OPERATOR))
    assert operator.get(PAGE, {"whatif-calls": "10"}).status_code == 403
    client_admin = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_ADMIN))
    assert client_admin.get(PAGE, {"whatif-calls": "10"}).status_code == 404


def test_the_what_if_keeps_the_forecast_being_looked_at(supervisor, tenants):
    shown = supervisor.get(PAGE, {"client": tenants.alpha.pk, "day": "2026-03-02"}).content.decode()
    assert '<input type="hidden" name="day" value="2026-03-02">' in shown
    assert f'<input type="hidden" name="client" value="{tenants.alpha.pk}">' in shown
    first = supervisor.get(PAGE).content.decode()
    assert 'type="hidden" name="day"' not in first  # the default forecast: nothing to carry
