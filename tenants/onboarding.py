"""How a client company becomes a live tenant: order → contract → acceptance → payment → provisioning.

The order is ``tenants.orders``, the contract up to its acceptance and payment
``tenants.contracting``; this module holds the last step, provisioning, and the error every step
raises when asked in the wrong state. Every function writes inside ``transaction.atomic()`` and
records an audit event in the same transaction; e-mails and tasks go out on commit.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.invitations import invite_member
from accounts.models import Role, User
from telephony.calls.setup import settings_from_order
from telephony.models import PhoneNumber, Queue
from tenants.audit import record_event
from tenants.models import Client, Contract, Order
from tenants.queue_terms import QueueTerms, queue_terms


class OnboardingError(Exception):
    """A step asked in the wrong state (e.g. accepting a superseded version); the message says why."""


class NumberPoolExhausted(OnboardingError):
    """Not enough available numbers in the pool to provision a client company."""


def _queue_values(row: QueueTerms) -> dict[str, object]:
    return {
        "sl_target_percent": row.sl_percent, "service_level_seconds": row.sl_seconds,
        "reserved_seats": row.reserved_seats, "max_seats": row.max_seats,
        "max_share_percent": row.max_share_percent,
    }  # fmt: skip


def _queue_of_row(queues: list[Queue], number: int, name: str, default: Queue | None) -> Queue | None:
    """The company's queue a row of the contract applies to (None: one to create). The first row
    is always the default queue, whatever its name; another row the queue of its name, case aside.
    Two queues of one name (case aside) are refused, not merged."""
    if number == 0 and default is not None:
        clash = [q for q in queues if q != default and q.name.casefold() == name.casefold()]
        if clash and default.name != name:
            raise OnboardingError(
                f"The contract's first queue {name!r} is the main queue ({default.name!r}), but the "
                f"company has another queue {clash[0].name!r}: rename one of them first."
            )
        return default
    same = [q for q in queues if q.name.casefold() == name.casefold()]
    if len(same) > 1:
        raise OnboardingError(
            f"The contract's queue {name!r} could be either of the company's queues "
            f"{' and '.join(repr(q.name) for q in same)}: rename one of them first."
        )
    return same[0] if same else None


def main_queue_name(client: Client | None) -> str | None:
    """The name of a live company's default queue (None for a prospect or no company yet): what
    the contract form's first row shows, since that row applies to it."""
    if client is None or client.status == Client.Status.PROSPECT:
        return None
    return Queue.objects.filter(tenant=client, is_default=True).values_list("name", flat=True).first()


def queue_terms_check(*, client: Client, terms: dict[str, object]) -> None:
    """Raise ``OnboardingError`` when the terms could not be applied to the company's queues as
    they are (what ``queue_terms_apply`` would refuse), so a version is refused when it is sent
    rather than when the client accepts it."""
    found = queue_terms(terms)
    queues = list(Queue.objects.filter(tenant=client).order_by("pk"))
    default = next((queue for queue in queues if queue.is_default), None)
    for number, row in enumerate(found.rows):
        _queue_of_row(queues, number, row.name, default)


def queue_terms_apply(*, client: Client, terms: dict[str, object], actor: User) -> list[Queue]:
    """The contract's terms into the router's queue rules (issue 20), inside the caller's
    transaction: the first row of the version's queue terms (``tenants.queue_terms.queue_terms``)
    into the company's default queue, which takes the row's name if it had another (the contract
    calls it so; the ``queue.terms`` event shows both names); each other row into the company's
    queue of that name (case aside), created when missing; two queues of one name (case aside)
    are refused (``OnboardingError``). Queues the contract does not name keep their settings. A
    version of the first form (flat terms) sets the default queue from its one row, keeping the
    queue's name, and the service level of every other queue, as it always did. One
    ``queue.terms`` audit event per queue changed or created. Each save drops the router's kept
    rules in this process (others read them within ``routing.queues.QUEUE_RULES_SECONDS``).
    Returns the queues of the rows, in the contract's order."""
    found = queue_terms(terms)
    queues = list(Queue.objects.select_for_update().filter(tenant=client).order_by("pk"))
    default = next((queue for queue in queues if queue.is_default), None)
    wanted: list[tuple[Queue | None, str, dict[str, object]]] = []
    for number, row in enumerate(found.rows):
        queue = _queue_of_row(queues, number, row.name, default)
        values = _queue_values(row)
        if queue is not None and queue is default and not found.legacy and queue.name != row.name:
            values = {"name": row.name, **values}
        wanted.append((queue, row.name, values))
    if found.others is not None:
        named = {id(queue) for queue, _, _ in wanted}
        for queue in queues:
            if id(queue) not in named:
                sl = {"sl_target_percent": found.others[0], "service_level_seconds": found.others[1]}
                wanted.append((queue, queue.name, sl))
    applied = []
    for queue, name, values in wanted:
        if queue is None:
            queue = Queue(tenant=client, name=name, is_default=default is None, **values)
            queue.full_clean()
            queue.save()
            default = default or queue
            record_event(actor=actor, action="queue.terms", obj=queue, client=client, before={},
                         after={"name": name, **values})  # fmt: skip
        else:
            before = {field: getattr(queue, field) for field in values}
            if before != values:
                for field, value in values.items():
                    setattr(queue, field, value)
                queue.full_clean()
                queue.save(update_fields=[*values])
                record_event(
                    actor=actor, action="queue.terms", obj=queue, client=client, before=before, after=values
                )
        applied.append(queue)
    return applied[: len(found.rows)]


def client_provision(*, contract: Contract, actor: User) -> Client:
    """Make an accepted and paid client live, in one transaction: numbers, default queue, admin, active.

    Numbers are taken with ``SKIP LOCKED``: concurrent provisionings take different numbers.
    Idempotent: a client that is no longer a prospect is returned as it is.
    """
    with transaction.atomic():
        contract = Contract.objects.select_for_update().get(pk=contract.pk)
        client = Client.objects.select_for_update().get(pk=contract.client_id)
        if client.status != Client.Status.PROSPECT:
            return client
        if contract.in_force_id is None or not contract.is_paid:
            raise OnboardingError("A client is provisioned once its contract is accepted and paid.")
        order = contract.order
        wanted = order.numbers_wanted
        numbers = list(
            PhoneNumber.objects.select_for_update(skip_locked=True)
            .filter(state=PhoneNumber.State.AVAILABLE, tenant__isnull=True)
            .order_by("number")[:wanted]
        )
        if len(numbers) < wanted:
            raise NumberPoolExhausted(f"The pool has {len(numbers)} free numbers; {wanted} are needed.")
        now = timezone.now()
        for number in numbers:
            number.tenant, number.state, number.assigned_at = client, PhoneNumber.State.ASSIGNED, now
            number.save(update_fields=["tenant", "state", "assigned_at"])
        # The contract's first queue is the default one (where calls go unless a menu says else).
        main_name = queue_terms(contract.in_force.terms).main.name
        Queue.objects.get_or_create(tenant=client, is_default=True, defaults={"name": main_name})
        provisioned = queue_terms_apply(client=client, terms=contract.in_force.terms, actor=actor)
        kinds = set(order.services.values_list("kind", flat=True))
        with tenant_context(client):
            settings_from_order(
                time_zone=order.time_zone,
                business_hours_only=order.coverage != Order.Coverage.ALWAYS,
                coverage_hours=order.coverage_hours,
                languages=order.languages,
                recording="recording" in kinds,
            )
            has_admin = User.objects.filter(role=Role.CLIENT_ADMIN, is_active=True).exists()
            if not has_admin:
                invite_member(
                    invited_by=actor,
                    host=client.host,
                    secure=settings.HTTPS,
                    email=order.contact_email,
                    first_name=order.contact_first_name,
                    last_name=order.contact_last_name,
                    role=Role.CLIENT_ADMIN,
                )
        client.status = Client.Status.ACTIVE
        client.save(update_fields=["status", "updated_at"])
        order.state = Order.State.ACTIVE
        order.save(update_fields=["state", "updated_at"])
        record_event(
            actor=actor,
            action="client.provisioned",
            obj=client,
            client=client,
            before={"status": Client.Status.PROSPECT},
            after={
                "status": client.status,
                "numbers": [n.number for n in numbers],
                "queue": provisioned[0].name,
                "queues": [queue.name for queue in provisioned],
            },
        )
        record_event(
            actor=actor,
            action="order.active",
            obj=order,
            client=client,
            before={"state": Order.State.ACCEPTED},
            after={"state": order.state},
        )
    return client
