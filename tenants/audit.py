"""Recording audit events, in the caller's transaction."""

from __future__ import annotations

from django.db import connection
from django.db.models import Model

from tenants.models import AuditEvent, Client


def record_event(
    *,
    actor: object | None,
    action: str,
    obj: Model,
    client: Client | None = None,
    before: dict[str, object] | None = None,
    after: dict[str, object] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Write one audit event; call it inside the transaction that makes the change."""
    name = ""
    if actor is not None:
        name = getattr(actor, "get_full_name", lambda: "")() or getattr(actor, "username", "") or str(actor)
    return AuditEvent.objects.create(
        actor_schema=connection.schema_name if actor is not None else "",
        actor_id=getattr(actor, "pk", None),
        actor_name=name,
        action=action,
        object_type=obj._meta.model_name,
        object_id=obj.pk,
        client=client,
        before=before or {},
        after=after or {},
        ip=ip,
    )


def events_for(*objects: Model) -> list[AuditEvent]:
    """The events about any of ``objects``, newest first."""
    from django.db.models import Q

    query = Q(pk__in=[])
    for obj in objects:
        if obj is not None and obj.pk is not None:
            query |= Q(object_type=obj._meta.model_name, object_id=obj.pk)
    return list(AuditEvent.objects.filter(query).order_by("-at", "-id"))
