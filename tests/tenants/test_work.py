"""Issue 23: the companies with periodic work waiting (``tenants.work``): a pass visits those due,
not every company, and no mark is lost to a pass settling at the same moment."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from tenants import work
from tenants.models import CompanyWork

CALLS = work.Kind.CALLS


@pytest.fixture
def clean(db) -> None:
    CompanyWork.objects.all().delete()  # rows other tests' companies may have (rolled back after)


def _due_at(tenant, kind=CALLS) -> dt.datetime | None:
    return CompanyWork.objects.filter(tenant=tenant, kind=kind).values_list("due_at", flat=True).first()


def test_work_belongs_to_a_company_never_to_public(clean):
    with pytest.raises(RuntimeError):
        work.mark(CALLS, due_at=timezone.now())


def test_a_schema_entered_by_name_marks_its_company(clean, tenants):
    now = timezone.now()
    with schema_context(tenants.beta.schema_name):  # no company row on the connection
        work.mark(CALLS, due_at=now)
    assert _due_at(tenants.beta) == now


def test_a_mark_keeps_the_earliest_due_time_of_its_company_and_kind_only(clean, tenants):
    now = timezone.now()
    with tenant_context(tenants.alpha):
        work.mark(CALLS, due_at=now + dt.timedelta(minutes=2))
        work.mark(CALLS, due_at=now + dt.timedelta(minutes=5))  # later: the earlier stays
        assert _due_at(tenants.alpha) == now + dt.timedelta(minutes=2)
        work.mark(CALLS, due_at=now + dt.timedelta(minutes=1))  # earlier: it wins
        work.mark(work.Kind.WEBHOOKS, due_at=now + dt.timedelta(minutes=9))
    assert _due_at(tenants.alpha) == now + dt.timedelta(minutes=1)
    assert _due_at(tenants.alpha, work.Kind.WEBHOOKS) == now + dt.timedelta(minutes=9)
    assert _due_at(tenants.beta) is None


def test_a_pass_visits_only_the_companies_due_and_settles_each(clean, tenants):
    now = timezone.now()
    with tenant_context(tenants.alpha):
        work.mark(CALLS, due_at=now - dt.timedelta(seconds=1))
    with tenant_context(tenants.beta):
        work.mark(CALLS, due_at=now + dt.timedelta(minutes=2))  # not yet
    assert work.due(CALLS, now=now) == [tenants.alpha]
    assert work.due(work.Kind.WEBHOOKS, now=now) == []
    assert work.due(CALLS, now=now + dt.timedelta(minutes=3)) == [tenants.alpha, tenants.beta]
    with tenant_context(tenants.alpha):
        assert work.settle(CALLS, lambda: now + dt.timedelta(minutes=1)) == now + dt.timedelta(minutes=1)
    assert work.due(CALLS, now=now) == []  # moved on
    with tenant_context(tenants.alpha):
        assert work.settle(CALLS, lambda: None) is None  # nothing left: gone
    assert _due_at(tenants.alpha) is None
    with tenant_context(tenants.alpha):  # settled with no row (a pass run by hand): one now
        work.settle(CALLS, lambda: now)
    assert _due_at(tenants.alpha) == now


def test_a_mark_made_while_a_pass_settles_is_never_lost(committed, tenants):
    """The pass has found nothing left and is about to delete the row when a new call marks it: the
    mark waits for the pass's lock and writes after, so the company stays due."""
    now = timezone.now()
    reading, marked = threading.Event(), threading.Event()
    went_through: list[bool] = []
    with tenant_context(tenants.alpha):
        work.mark(CALLS, due_at=now)

    def nothing_left() -> None:
        reading.set()
        went_through.append(marked.wait(1.0))  # the mark committed while the pass read: no lock
        return None

    def settle() -> None:
        try:
            with tenant_context(tenants.alpha):
                work.settle(CALLS, nothing_left)
        finally:
            connection.close()

    def mark() -> None:
        try:
            reading.wait(5)
            with tenant_context(tenants.alpha), transaction.atomic():
                work.mark(CALLS, due_at=now + dt.timedelta(minutes=2))
            marked.set()
        finally:
            connection.close()

    threads = [threading.Thread(target=settle), threading.Thread(target=mark)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert marked.is_set() and went_through == [False]
        assert _due_at(tenants.alpha) == now + dt.timedelta(minutes=2)
    finally:
        CompanyWork.objects.filter(tenant=tenants.alpha).delete()
