"""Issue 20 on the pages: the wallboard's contracts panel, the back office's page per contract, and
the portal, where a company sees its own service level and seats and nothing of another's."""

from __future__ import annotations

import uuid

from django.utils import timezone

from accounts.models import Role
from console import wallboard
from telephony.models import Queue
from telephony.routing import standing
from tenants.models import Contract
from tests.conftest import http, logged_in, make_user
from tests.onboarding.helpers import manager, sent_contract
from tests.telephony.helpers import make_operator
from tests.telephony.test_fairness_routing import history, on_call, waiting


def make_queue(tenant, name: str, **terms) -> Queue:
    unique = f"{name} {uuid.uuid4().hex[:6]}"
    return Queue.objects.create(tenant=tenant, name=unique, overflow_after=0, **terms)


def floor(tenants, now):
    """Alpha reserves 3 seats and uses 2 (its reservation unmet, a call waiting); Beta is behind."""
    alpha = make_queue(tenants.alpha, "Alpha line", reserved_seats=3, max_seats=6)
    beta = make_queue(tenants.beta, "Beta line", sl_target_percent=90, service_level_seconds=15)
    history(tenants.alpha, alpha, now, within=8, late=2)
    history(tenants.beta, beta, now, within=2, late=8)
    on_call(tenants.alpha, alpha, now, seats=2)
    waiting(tenants.alpha, alpha, 5, now)
    waiting(tenants.beta, beta, 40, now)
    return alpha, beta


def test_the_wallboard_panel_shows_each_company_and_who_the_router_favours(db, tenants):
    now = timezone.now()
    alpha, beta = floor(tenants, now)
    panel = wallboard.snapshot(now=now)["fairness"]
    rows = {r["queue_id"]: r for r in panel["rows"]}
    a, b = rows[alpha.pk], rows[beta.pk]
    assert (a["tenant"], a["target"], a["seats"], a["reserved"], a["cap"], a["kind"]) == (
        "Alpha Ltd", "80 % in 20 s", 2, 3, 6, "reserved",
    )  # fmt: skip
    assert a["sl_live"] == 83  # 10 of 12 (the 2 on a call answered in 20 s); its waiting call not yet late
    # 2 of 11: the call waiting past 15 s is a miss already
    assert (b["target"], b["sl_live"], b["waiting"], b["kind"]) == ("90 % in 15 s", 18, 1, "behind")
    assert a["sl_today"] is not None and b["sl_today"] is not None
    assert panel["favoured"]["tenant"] == "Alpha Ltd" and panel["favoured"]["kind"] == "reserved"
    assert panel["favoured"]["reason"] == "uses 2 of its 3 reserved seats with calls waiting"
    # A third seat in use: the reservation is met and the company furthest behind its target goes next.
    on_call(tenants.alpha, alpha, now, seats=1)
    panel = wallboard.snapshot(now=now)["fairness"]
    assert panel["favoured"]["tenant"] == "Beta GmbH"
    assert panel["favoured"]["reason"].startswith("furthest behind its target")


def test_the_back_office_sees_the_same_per_contract_account_managers_only(db, tenants):
    now = timezone.now()
    by = manager()
    contract, company = sent_contract(by=by)
    queue = make_queue(company, "Main line", reserved_seats=2, max_share_percent=50)
    make_operator({queue: 1}, state="available")
    waiting(company, queue, 3, now)
    page = logged_in(None, by).get(f"/backoffice/contracts/{contract.pk}/routing/")
    assert page.status_code == 200
    html = page.content.decode()
    assert queue.name in html and "80 % in 20 s" in html
    favoured = f"The next free operator goes to this client ({queue.name}): uses 0 of its 2 reserved seats"
    assert favoured in html
    contract_page = logged_in(None, by).get(f"/staff/contracts/{contract.pk}/").content.decode()
    assert f"/backoffice/contracts/{contract.pk}/routing/" in contract_page
    assert logged_in(None, make_user(None, role=Role.OPERATOR)).get(
        f"/backoffice/contracts/{contract.pk}/routing/"
    ).status_code in (302, 403)
    assert http(None).get(f"/backoffice/contracts/{contract.pk}/routing/").status_code == 302
    missing = Contract.objects.order_by("-pk").first().pk + 1
    assert logged_in(None, by).get(f"/backoffice/contracts/{missing}/routing/").status_code == 404


def test_a_company_sees_its_own_service_level_and_seats_and_nothing_of_another(db, tenants):
    now = timezone.now()
    alpha, beta = floor(tenants, now)
    admin = make_user(tenants.alpha, role=Role.CLIENT_ADMIN)
    html = logged_in(tenants.alpha, admin).get("/contract/").content.decode()
    assert "Your service level and seats now" in html
    assert alpha.name in html and "your reserved operators first; the first of your calls served" in html
    assert "Beta line" not in html and "Beta GmbH" not in html and "90 % in 15 s" not in html
    for other in Queue.objects.exclude(tenant=tenants.alpha):
        assert f'data-queue="{other.pk}"' not in html
    # The back office and the wallboard are not on a company's host.
    assert logged_in(tenants.alpha, admin).get("/backoffice/contracts/1/routing/").status_code == 404
    viewer = make_user(tenants.beta, role=Role.CLIENT_ADMIN)
    html = logged_in(tenants.beta, viewer).get("/contract/").content.decode()
    assert beta.name in html and "Alpha line" not in html and "Alpha Ltd" not in html
    assert "by your service level against the others&#x27;; the first of your calls served" in html


def test_a_company_s_view_is_read_from_its_own_queues_only(db, tenants):
    """The portal's view of the router (``now_favoured(tenant_id=…)``) and the back office's
    figures of today (``queues_today(tenant_id=…)``) read one company's queues and calls: another
    company's never enter them, even where that company is the one the router favours."""
    now = timezone.now()
    alpha, beta = floor(tenants, now)
    view = standing.now_favoured(now, tenant_id=tenants.beta.pk)
    assert {s.queue for s in view.standings} == {beta.pk}
    assert view.favoured_queue == beta.pk  # Beta's own next call (Alpha's reservation is not Beta's business)
    assert standing.now_favoured(now).favoured_queue == alpha.pk  # across companies, Alpha's goes first
    today = wallboard.queues_today(now, tenant_id=tenants.beta.pk)
    assert [row["id"] for row in today] == [beta.pk]
    assert {row["id"] for row in wallboard.queues_today(now)} >= {alpha.pk, beta.pk}


def test_two_queues_of_one_company_each_show_their_own_terms(db, tenants):
    """A contract with two queues: the wallboard, the back office page and the portal show a row
    each, with that queue's own target, reserved seats and cap."""
    now = timezone.now()
    by = manager()
    contract, company = sent_contract(by=by)
    main = make_queue(company, "Main", reserved_seats=2, sl_target_percent=90)
    sales = make_queue(company, "Sales", max_seats=3, sl_target_percent=70, service_level_seconds=60)
    on_call(company, sales, now, seats=3)
    waiting(company, main, 3, now)
    waiting(company, sales, 3, now)
    rows = {r["queue_id"]: r for r in wallboard.snapshot(now=now)["fairness"]["rows"]}
    assert (rows[main.pk]["target"], rows[main.pk]["reserved"], rows[main.pk]["cap"]) == (
        "90 % in 20 s",
        2,
        None,
    )
    assert (rows[main.pk]["kind"], rows[sales.pk]["kind"]) == ("reserved", "capped")
    assert (rows[sales.pk]["target"], rows[sales.pk]["seats"], rows[sales.pk]["cap"]) == (
        "70 % in 60 s",
        3,
        3,
    )
    elsewhere = make_queue(tenants.alpha, "Alpha line")  # another company's queue, with a call today
    waiting(tenants.alpha, elsewhere, 3, now)
    html = logged_in(None, by).get(f"/backoffice/contracts/{contract.pk}/routing/").content.decode()
    assert f'data-queue="{main.pk}"' in html and f'data-queue="{sales.pk}"' in html
    assert f'data-queue="{elsewhere.pk}"' not in html and elsewhere.name not in html
    assert 'id="contract-queue-terms"' not in html  # not accepted yet: no terms in force
    admin = make_user(company, role=Role.CLIENT_ADMIN)
    html = logged_in(company, admin).get("/contract/").content.decode()
    assert "your reserved operators first; the first of your calls served" in html
    assert "at its cap: other clients&#x27; calls first" in html
