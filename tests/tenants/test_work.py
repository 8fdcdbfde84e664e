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


def test_a_mark_makes_its_company_due_once_and_leaves_a_row_it_has(clean, tenants):
    now = timezone.now()
    with tenant_context(tenants.alpha):
        work.mark(CALLS, due_at=now + dt.timedelta(minutes=2))
        work.mark(CALLS, due_at=now + dt.timedelta(minutes=5))  # it has one: kept as it is
        work.mark(work.Kind.WEBHOOKS, due_at=now + dt.timedelta(minutes=9))
    assert _due_at(tenants.alpha) == now + dt.timedelta(minutes=2)
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
    with tenant_context(tenants.beta):
        assert work.settle(CALLS, lambda: True, now=now)  # work left: due at the next pass
    assert work.due(CALLS, now=now) == [tenants.alpha, tenants.beta]
    with tenant_context(tenants.alpha):
        assert not work.settle(CALLS, lambda: False)  # nothing left: gone
    assert _due_at(tenants.alpha) is None
    with tenant_context(tenants.alpha):  # settled with no row (a pass run by hand): one now
        work.settle(CALLS, lambda: True, now=now)
    assert _due_at(tenants.alpha) == now


def _in_thread(target) -> threading.Thread:
    def run() -> None:
        try:
            target()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_pass_leaves_the_row_of_a_company_being_marked_now(committed, tenants):
    """A new call is being written (its mark done, not committed) when the pass finds nothing left:
    the row stays, for the next pass to read the call."""
    now = timezone.now()
    marked, done = threading.Event(), threading.Event()
    CompanyWork.objects.filter(tenant=tenants.alpha).delete()  # committed tests' calls may mark it
    with tenant_context(tenants.alpha):
        work.mark(CALLS, due_at=now)

    def new_call() -> None:
        with tenant_context(tenants.alpha), transaction.atomic():
            work.mark(CALLS, due_at=now + dt.timedelta(minutes=2))
            marked.set()
            done.wait(10)

    thread = _in_thread(new_call)
    try:
        assert marked.wait(10)
        with tenant_context(tenants.alpha):
            assert work.settle(CALLS, lambda: False)  # kept: a mark is under way
        done.set()
        thread.join(10)
        assert _due_at(tenants.alpha) is not None
    finally:
        done.set()
        CompanyWork.objects.filter(tenant=tenants.alpha).delete()


def test_a_mark_made_while_a_pass_deletes_the_row_writes_it_again(committed, tenants):
    """The pass holds the company's lock, has found nothing left and deletes the row: a new call's
    mark waits for it, then writes the row again."""
    now = timezone.now()
    reading, marked = threading.Event(), threading.Event()
    went_through: list[bool] = []
    CompanyWork.objects.filter(tenant=tenants.alpha).delete()  # committed tests' calls may mark it
    with tenant_context(tenants.alpha):
        work.mark(CALLS, due_at=now)

    def nothing_left() -> bool:
        reading.set()
        went_through.append(marked.wait(1.0))  # the mark committed while the pass read: no lock
        return False

    def settle() -> None:
        with tenant_context(tenants.alpha):
            work.settle(CALLS, nothing_left)

    def mark() -> None:
        reading.wait(5)
        with tenant_context(tenants.alpha), transaction.atomic():
            work.mark(CALLS, due_at=now + dt.timedelta(minutes=2))
        marked.set()

    threads = [_in_thread(settle), _in_thread(mark)]
    try:
        for thread in threads:
            thread.join(10)
        assert marked.is_set() and went_through == [False]
        assert _due_at(tenants.alpha) is not None  # written again after the pass deleted it
    finally:
        CompanyWork.objects.filter(tenant=tenants.alpha).delete()
