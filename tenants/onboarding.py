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

DEFAULT_QUEUE_NAME = "Main"


class OnboardingError(Exception):
    """A step asked in the wrong state (e.g. accepting a superseded version); the message says why."""


class NumberPoolExhausted(OnboardingError):
    """Not enough available numbers in the pool to provision a client company."""


def queue_terms_apply(*, client: Client, terms: dict[str, object], actor: User) -> None:
    """The contract's terms into the router's queue rules (issue 20): its service level into every
    queue of the company, its reserved seats and caps into the company's main (default) queue.
    Each queue is saved, which drops the router's kept rules in this process (other processes
    read them within ``routing.queues.QUEUE_RULES_SECONDS``). Inside the caller's transaction."""
    seats = {
        "reserved_seats": int(terms.get("reserved_seats") or 0),
        "max_seats": terms.get("max_seats") or None,
        "max_share_percent": terms.get("max_share_percent") or None,
    }
    for queue in Queue.objects.select_for_update().filter(tenant=client).order_by("pk"):
        before = {f: getattr(queue, f) for f in ("sl_target_percent", "service_level_seconds", *seats)}
        queue.sl_target_percent = int(terms.get("sl_percent") or queue.sl_target_percent)
        queue.service_level_seconds = int(terms.get("sl_seconds") or queue.service_level_seconds)
        if queue.is_default:
            for name, value in seats.items():
                setattr(queue, name, value)
        after = {f: getattr(queue, f) for f in before}
        if after != before:
            queue.full_clean()
            queue.save(update_fields=[*after])
            record_event(
                actor=actor, action="queue.terms", obj=queue, client=client, before=before, after=after
            )


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
        Queue.objects.get_or_create(tenant=client, is_default=True, defaults={"name": DEFAULT_QUEUE_NAME})
        queue_terms_apply(client=client, terms=contract.in_force.terms, actor=actor)
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
                "queue": DEFAULT_QUEUE_NAME,
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
