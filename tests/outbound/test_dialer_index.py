"""The dialer finds its work through an index in public, not by looking into every company (issue 23).

``telephony.OutboundWork`` names the queues that may have outbound work; it is written when work
appears (a campaign started or resumed, a list loaded, a callback booked or due again) and trimmed
by the dialer when it finds nothing there. A tick touches only the companies with work, and two
ticks never run at once.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from config.single_flight import single_flight
from outbound import control, work
from outbound.importing import import_contacts, read_csv
from outbound.models import Campaign, CampaignContact
from outbound.tasks import dial_tick
from telephony.calls.models import Callback
from telephony.calls.records import book_callback
from telephony.models import OperatorProfile, OutboundWork, Queue
from tests.factories import CallFactory
from tests.outbound.dialer_kit import operators_on, phone, running_campaign
from tests.outbound.kit import add_contact, make_campaign
from tests.telephony.helpers import make_operator


@pytest.fixture
def dial_pass(db):
    """The pass narrowed to this test's operators (the pass is cross-tenant)."""
    from outbound import dialer

    baseline = OperatorProfile.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def run(**kwargs):
        mine = list(OperatorProfile.objects.filter(pk__gt=baseline).values_list("pk", flat=True))
        return dialer.unscoped_dial_pass(operator_ids=mine, **kwargs)

    return run


def test_a_pass_looks_only_into_the_companies_with_work_due(dial_pass, db, tenants):
    _, queue, _ = running_campaign(tenants.alpha, contacts=2, mode="preview")
    beta_queue = Queue.objects.create(tenant=tenants.beta, name="idle")
    operator = make_operator({queue: 1, beta_queue: 1})  # free for both companies; beta has no work

    with CaptureQueriesContext(connection) as queries:
        (reserved,) = dial_pass()

    assert reserved.tenant_id == tenants.alpha.pk and reserved.operator_id == operator.pk
    sql = [q["sql"] for q in queries.captured_queries]
    assert any(tenants.alpha.schema_name in s for s in sql)  # its schema was entered
    assert not any(tenants.beta.schema_name in s for s in sql)  # beta's never: no work there


def test_with_no_work_anywhere_a_pass_is_one_indexed_read(db, tenants, django_assert_num_queries):
    from outbound import dialer

    OutboundWork.objects.all().delete()  # this test's view of the index: nothing due
    queue = Queue.objects.create(tenant=tenants.alpha, name="quiet")
    make_operator({queue: 1})
    with django_assert_num_queries(1):
        assert dialer.unscoped_dial_pass() == []


def test_starting_a_campaign_puts_its_queue_in_the_index_and_a_pause_lets_the_pass_drop_it(
    dial_pass, db, tenants, django_capture_on_commit_callbacks
):
    with tenant_context(tenants.alpha):
        campaign = make_campaign(tenants.alpha, mode="preview")
        add_contact(campaign, phone())
        with django_capture_on_commit_callbacks(execute=True):
            control.campaign_control(campaign=campaign, action="start", now=timezone.now())
    assert OutboundWork.objects.get(queue_id=campaign.queue_id).tenant_id == tenants.alpha.pk

    with tenant_context(tenants.alpha):
        control.campaign_control(campaign=campaign, action="pause", now=timezone.now())
    queue = Queue.objects.get(pk=campaign.queue_id)
    operators_on(queue, 1)
    assert dial_pass() == []
    assert not OutboundWork.objects.filter(queue_id=queue.pk).exists()  # nothing left: off the index

    with tenant_context(tenants.alpha), django_capture_on_commit_callbacks(execute=True):
        control.campaign_control(campaign=campaign, action="resume", now=timezone.now())
    assert OutboundWork.objects.filter(queue_id=queue.pk).exists()
    (reserved,) = dial_pass()
    assert reserved.mode == "preview"


def test_a_campaign_with_nothing_due_now_is_looked_at_again_later_not_every_tick(dial_pass, db, tenants):
    _, queue, _phones = running_campaign(tenants.alpha, contacts=1)
    with tenant_context(tenants.alpha):
        Campaign.objects.filter(queue_id=queue.pk).update(window_days=[])  # no calling day: nothing due
    operators_on(queue, 1)
    before = timezone.now()
    assert dial_pass() == []
    due = OutboundWork.objects.get(queue_id=queue.pk).due_at
    assert before + work.RECHECK - dt.timedelta(seconds=5) <= due <= timezone.now() + work.RECHECK


def test_a_list_loaded_into_a_running_campaign_is_announced(db, tenants, django_capture_on_commit_callbacks):
    campaign, queue, _ = running_campaign(tenants.alpha, contacts=0)
    OutboundWork.objects.filter(queue_id=queue.pk).delete()
    table = read_csv(f"phone\n{phone()}\n".encode())
    with tenant_context(tenants.alpha), django_capture_on_commit_callbacks(execute=True):
        import_contacts(campaign=campaign, table=table, mapping={"phone": 0})
    assert OutboundWork.objects.filter(queue_id=queue.pk, due_at__lte=timezone.now()).exists()


def test_a_callback_booked_by_telephony_reaches_the_index_through_its_event(
    db, tenants, django_capture_on_commit_callbacks
):
    queue = Queue.objects.create(tenant=tenants.alpha, name="cb")
    with tenant_context(tenants.alpha), django_capture_on_commit_callbacks(execute=True):
        call = CallFactory(from_number=phone(), queue_id=queue.pk)
        book_callback(call=call, reason=Callback.Reason.ABANDONED, now=timezone.now())
    assert OutboundWork.objects.get(queue_id=queue.pk).tenant_id == tenants.alpha.pk


def test_work_announced_while_a_pass_runs_is_never_dropped_by_it(db, tenants):
    queue = Queue.objects.create(tenant=tenants.alpha, name="race")
    pass_started = timezone.now()
    work.mark_work(tenant=tenants.alpha, queue_id=queue.pk)  # a callback booked meanwhile
    work.settle_idle(queue_next={queue.pk: None}, pass_started=pass_started)  # the pass saw nothing
    assert OutboundWork.objects.filter(queue_id=queue.pk).exists()
    work.settle_idle(queue_next={queue.pk: None}, pass_started=timezone.now())  # the next pass
    assert not OutboundWork.objects.filter(queue_id=queue.pk).exists()


def test_a_tick_finding_another_running_does_nothing(db, tenants):
    _, queue, _ = running_campaign(tenants.alpha, contacts=1, mode="preview")
    (operator,) = operators_on(queue, 1)
    with single_flight("dial-tick", timeout=5) as mine:
        assert mine
        assert dial_tick() == 0  # skipped: the other tick holds the lock
    operator.refresh_from_db()
    assert operator.state == "available"
    assert dial_tick() >= 1
    operator.refresh_from_db()
    assert operator.state == "on_call"


def test_another_companys_index_row_never_lets_the_pass_claim_its_work_for_us(dial_pass, db, tenants):
    """Tenant isolation: the index names the company; work is claimed only in that company's schema."""
    campaign, _queue, _ = running_campaign(tenants.beta, contacts=1, mode="preview")
    alpha_queue = Queue.objects.create(tenant=tenants.alpha, name="alpha-only")
    make_operator({alpha_queue: 1})
    OutboundWork.objects.create(
        tenant=tenants.alpha, queue=alpha_queue, due_at=timezone.now(), marked_at=timezone.now()
    )
    assert dial_pass() == []  # alpha has no campaign; beta's is not reachable through alpha's row
    with tenant_context(tenants.beta):
        assert CampaignContact.objects.filter(campaign=campaign, state="pending").count() == 1


def _split(queries: CaptureQueriesContext) -> tuple[list[str], list[str]]:
    """A pass's queries: (in public, in a company's schema), as django-tenants switches the path."""
    public: list[str] = []
    company: list[str] = []
    into = public
    for sql in (q["sql"] for q in queries.captured_queries):
        if sql.upper().startswith("SET SEARCH_PATH"):
            into = public if "public" in sql.split(",")[0] else company
            continue
        into.append(sql)
    return public, company


def test_a_pass_reads_each_company_in_a_fixed_number_of_queries_without_locking_to_look(
    dial_pass, db, tenants
):
    """Before: each company cost a default-queue query in public and, per running campaign, a
    locking (FOR UPDATE SKIP LOCKED) test of whether a contact was due."""
    later = timezone.now() + dt.timedelta(hours=1)
    queues = {}
    for tenant in (tenants.alpha, tenants.beta):
        queues[tenant] = []
        for _ in range(3):  # three running campaigns, their contacts not due yet
            campaign, queue, _ = running_campaign(tenant, contacts=1)
            with tenant_context(tenant):
                CampaignContact.objects.filter(campaign=campaign).update(next_due_at=later)
            queues[tenant].append(queue)
    make_operator({q: 1 for qs in queues.values() for q in qs})

    def a_pass(*companies):
        OutboundWork.objects.update(due_at=later)
        for tenant in companies:
            OutboundWork.objects.filter(queue__in=queues[tenant]).update(due_at=timezone.now())
        with CaptureQueriesContext(connection) as queries:
            assert dial_pass() == []
        public, company = _split(queries)
        assert not [sql for sql in public + company if "FOR UPDATE" in sql.upper()]
        return len(public), len(company)

    one = a_pass(tenants.alpha)
    two = a_pass(tenants.alpha, tenants.beta)
    assert two[0] == one[0]  # the public side is the same whatever the number of companies
    assert two[1] == 2 * one[1] == 2 * 3  # each company: its campaigns, their due contacts, callbacks
