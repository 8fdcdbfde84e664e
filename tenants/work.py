"""The companies with periodic work waiting (``tenants.models.CompanyWork``): a pass visits those
due, not all of them (issue 23: O(work), not O(companies)).

- ``mark(kind, due_at)``: run by the change that gives the current company work of that kind, in
  its transaction: the company gets a row due at ``due_at``, unless it has one (then due by the
  next pass: ``settle`` keeps a row only due at once). ``MARK`` is the same statement for a change
  written in SQL of its own (``calls.sql.START_INBOUND``).
- ``due(kind)``: the companies whose row is due now (public schema), for the pass.
- ``settle(kind, left)``: after the pass has done the company's work, in its schema: the row stays
  due at once while ``left()`` says work is left, and is deleted when none is.

A mark never waits on another (the incoming calls of one company are not serialized on its row:
they take a shared advisory lock of the company and insert with ``ON CONFLICT DO NOTHING``).
``settle`` deletes a row only under the exclusive form of that lock, taken without waiting, after
which it reads what is left: a change marking the company at that moment either committed before
(its work is read) or waits for the delete and inserts the row again; when a mark is under way
the lock is not free and the row stays for the next pass. No mark is lost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db import connection, transaction
from django.utils import timezone

from tenants.models import Client, CompanyWork
from tenants.resolution import client_for_schema

Kind = CompanyWork.Kind

# The advisory lock of a company's work is ``(hashtext('tenants.work'), its id)``: shared by marks,
# exclusive for a pass deleting its row. ``{rows}``: a VALUES list or a SELECT of (tenant_id, kind,
# due_at); the lock is taken in a subquery fenced by ``OFFSET 0``, for each row before its insert.
MARK = """
INSERT INTO tenants_companywork (tenant_id, kind, due_at)
SELECT w.tenant_id, w.kind, w.due_at FROM (
    SELECT r.tenant_id, r.kind, r.due_at,
           pg_advisory_xact_lock_shared(hashtext('tenants.work'), r.tenant_id::int)
    FROM ({rows}) AS r (tenant_id, kind, due_at) OFFSET 0
) AS w
ON CONFLICT (tenant_id, kind) DO NOTHING
"""
TRY_EXCLUSIVE = "SELECT pg_try_advisory_xact_lock(hashtext('tenants.work'), %s::int)"


def _company_id() -> int:
    """The company whose schema the connection is in (``schema_context`` sets no company row)."""
    tenant = getattr(connection, "tenant", None)
    company = tenant if isinstance(tenant, Client) else client_for_schema(connection.schema_name)
    if company is None or company.pk is None or connection.schema_name == "public":
        raise RuntimeError("periodic work belongs to a client company: mark it inside its schema")
    return company.pk


def mark(kind: Kind, *, due_at: dt.datetime) -> None:
    """The current company has work of ``kind`` from ``due_at`` on (in the caller's transaction)."""
    with connection.cursor() as cursor:
        rows = MARK.format(rows="VALUES (%s, %s, %s::timestamptz)")
        cursor.execute(rows, [_company_id(), kind.value, due_at])


def due(kind: Kind, *, now: dt.datetime | None = None) -> list[Client]:
    """The companies with work of ``kind`` due by ``now`` (public schema)."""
    rows = CompanyWork.objects.filter(kind=kind, due_at__lte=now or timezone.now())
    return list(Client.objects.filter(pk__in=rows.values("tenant_id")).order_by("pk"))


def settle(kind: Kind, left: Callable[[], bool], *, now: dt.datetime | None = None) -> bool:
    """The pass has done the current company's work of ``kind``: its row stays due at once while
    ``left()`` says work is left, else goes (when no mark is under way). True when the row stays."""
    company, now = _company_id(), now or timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:  # no wait: a mark under way keeps the row
            cursor.execute(TRY_EXCLUSIVE, [company])
            free = cursor.fetchone()[0]
        rows = CompanyWork.objects.filter(tenant_id=company, kind=kind)
        if left():
            if not rows.update(due_at=now):
                mark(kind, due_at=now)  # no row (a pass run by hand): one now
            return True
        if free:
            rows.delete()
            return False
    return True
