"""The dialer's index of work (``telephony.OutboundWork``, public): which companies' queues may have
outbound work, and from when. Written here whenever work appears, read and trimmed by the dialer,
so that no pass looks into a company without work (issue 23)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, DateTimeField, Value, When
from django.utils import timezone

from telephony.models import OutboundWork, Queue
from tenants.models import Client

# Announced work: the row made, or its due time brought forward (never pushed back), and marked
# now so that a dialer pass that began earlier keeps it.
MARK = """
INSERT INTO telephony_outboundwork (tenant_id, queue_id, due_at, marked_at)
VALUES (%(tenant)s, %(queue)s, %(due)s, %(now)s)
ON CONFLICT (queue_id) DO UPDATE
SET due_at = LEAST(telephony_outboundwork.due_at, EXCLUDED.due_at), marked_at = EXCLUDED.marked_at
"""


def mark_work(*, tenant: Client, queue_id: int | None, due_at: dt.datetime | None = None) -> None:
    """The queue (None: the company's default queue) has outbound work from ``due_at`` (now)."""
    if queue_id is None:
        queue_id = Queue.objects.filter(tenant=tenant, is_default=True).values_list("pk", flat=True).first()
        if queue_id is None:
            return
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(MARK, {"tenant": tenant.pk, "queue": queue_id, "due": due_at or now, "now": now})


def mark_work_on_commit(*, queue_id: int | None, due_at: dt.datetime | None = None) -> None:
    """``mark_work`` for the current company once the change that made the work commits."""
    tenant = connection.tenant
    transaction.on_commit(lambda: mark_work(tenant=tenant, queue_id=queue_id, due_at=due_at))


def on_callback_booked(*, tenant: Client, queue_id: int | None, due_at: dt.datetime, **kwargs: Any) -> None:
    """``telephony.events.callback_booked`` (after commit, in the company's schema)."""
    mark_work(tenant=tenant, queue_id=queue_id, due_at=due_at)


# A queue whose campaigns have nothing due now (calling windows closed, retries later) is looked at
# again after this long at the latest; an earlier retry or callback brings it forward.
RECHECK = dt.timedelta(seconds=60)


def due_queues(*, now: dt.datetime) -> tuple[dict[int, int], set[int]]:
    """The queues with outbound work due now, with their company (``{queue id: tenant id}``), and
    which of them are their company's default queue (a callback booked without a queue is its
    work): one read of the index, whatever the number of companies."""
    rows = OutboundWork.objects.filter(due_at__lte=now).values_list(
        "queue_id", "tenant_id", "queue__is_default"
    )
    return {queue: tenant for queue, tenant, _ in rows}, {queue for queue, _, default in rows if default}


# Work due now in a queue the operator holds a certified skill on (``certified_skills``). Raw, as
# the router's statements are: every operator freed asks it, and through the ORM it cost 0.75 ms
# of CPU, mostly compiling the subquery, against 0.1 ms.
DUE_FOR_OPERATOR = """
SELECT EXISTS (
    SELECT 1 FROM telephony_skill s JOIN telephony_outboundwork w ON w.queue_id = s.queue_id
    WHERE s.operator_id = %(operator)s AND s.certified_until > %(now)s AND w.due_at <= %(now)s
)
"""


def due_for_operator(operator_id: int, *, now: dt.datetime | None = None) -> bool:
    """Whether the index has work due now in a queue the operator is certified for: one indexed
    read, so that a freed operator costs the dialer no task when nothing is due for them. Never
    narrower than the dialer's pass (which also checks the operator is still available)."""
    with connection.cursor() as cursor:
        cursor.execute(DUE_FOR_OPERATOR, {"operator": operator_id, "now": now or timezone.now()})
        return cursor.fetchone()[0]


def settle_idle(*, queue_next: dict[int, dt.datetime | None], pass_started: dt.datetime) -> None:
    """Queues a pass found without work due: looked at again at their next due time, or dropped
    from the index when nothing is left (``None``), unless work was announced since the pass began."""
    unmarked = OutboundWork.objects.filter(marked_at__lt=pass_started)
    drop = [q for q, due in queue_next.items() if due is None]
    if drop:
        unmarked.filter(queue_id__in=drop).delete()
    later = {q: due for q, due in queue_next.items() if due is not None}
    if later:  # one statement for all the queues
        due_at = Case(
            *(When(queue_id=q, then=Value(due)) for q, due in later.items()), output_field=DateTimeField()
        )
        unmarked.filter(queue_id__in=later).update(due_at=due_at)
