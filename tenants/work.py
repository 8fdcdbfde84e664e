"""The companies with periodic work waiting (``tenants.models.CompanyWork``): a pass over companies
visits those due, not all of them (issue 23: O(work), not O(companies)).

- ``mark(kind, due_at)``: run by the change that gives the current company work of that kind, in
  its transaction: the company's row is due at ``due_at`` at the latest (an earlier due time stays).
  ``MARK`` is the same statement for a change written in SQL of its own (``calls.sql.START_INBOUND``).
- ``due(kind)``: the companies whose row is due now (public schema), for the pass.
- ``settle(kind, next_due)``: after the pass has done the company's work, in its schema: the row
  moves to ``next_due()`` (what is left, read now), or is deleted when that is None.

No mark is lost to a pass settling at the same moment: ``MARK`` locks the company's row (``ON
CONFLICT … DO UPDATE`` locks it even when it leaves it as it is) and ``settle`` locks it before
reading what is left, so a change that commits first is read by ``next_due``, and one that commits
after finds the settled row (or none) and marks it again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db import connection, transaction
from django.utils import timezone

from tenants.models import Client, CompanyWork

Kind = CompanyWork.Kind

# ``{rows}``: a VALUES list or a SELECT of (tenant_id, kind, due_at).
MARK = """
INSERT INTO tenants_companywork (tenant_id, kind, due_at) {rows}
ON CONFLICT (tenant_id, kind) DO UPDATE SET due_at = EXCLUDED.due_at
WHERE tenants_companywork.due_at > EXCLUDED.due_at
"""


def _company_id() -> int:
    """The company whose schema the connection is in (``schema_context`` sets no company row)."""
    pk = getattr(getattr(connection, "tenant", None), "pk", None)
    if pk is None and connection.schema_name != "public":
        pk = Client.objects.filter(schema_name=connection.schema_name).values_list("pk", flat=True).first()
    if pk is None or connection.schema_name == "public":
        raise RuntimeError("periodic work belongs to a client company: mark it inside its schema")
    return pk


def mark(kind: Kind, *, due_at: dt.datetime) -> None:
    """The current company has work of ``kind`` from ``due_at`` on (in the caller's transaction)."""
    with connection.cursor() as cursor:
        cursor.execute(MARK.format(rows="VALUES (%s, %s, %s)"), [_company_id(), kind.value, due_at])


def due(kind: Kind, *, now: dt.datetime | None = None) -> list[Client]:
    """The companies with work of ``kind`` due by ``now``, earliest first (public schema)."""
    rows = CompanyWork.objects.filter(kind=kind, due_at__lte=now or timezone.now()).order_by("due_at")
    return list(Client.objects.filter(pk__in=rows.values("tenant_id")).order_by("pk"))


def settle(kind: Kind, next_due: Callable[[], dt.datetime | None]) -> dt.datetime | None:
    """The pass has done the current company's work of ``kind``: its row moves to ``next_due()``
    (read under the row's lock), or goes when nothing is left (None). Returns the new due time."""
    company = _company_id()
    with transaction.atomic():
        rows = CompanyWork.objects.filter(tenant_id=company, kind=kind)
        list(rows.select_for_update().values_list("pk"))  # a mark running now commits first
        when = next_due()
        if when is None:
            rows.delete()
        elif not rows.update(due_at=when):
            mark(kind, due_at=when)  # no row (a pass run by hand): one now
    return when
