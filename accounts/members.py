"""A client admin manages the colleagues of their company: role and access."""

from __future__ import annotations

from django.db import connection, transaction

from accounts.models import User
from tenants.audit import record_event


def member_update(*, member: User, by: User, role: str, is_active: bool) -> User:
    """Change a colleague's role or access, audited; the last active admin is never removed."""
    with transaction.atomic():
        member = User.objects.select_for_update().get(pk=member.pk)
        before = {"role": member.role, "is_active": member.is_active}
        member.role, member.is_active = role, is_active
        member.full_clean()
        member.save(update_fields=["role", "is_active"])
        if not User.objects.filter(role="client_admin", is_active=True).exists():
            raise PermissionError("A company keeps at least one active admin.")
        if before != {"role": role, "is_active": is_active}:
            record_event(
                actor=by,
                action="member.updated",
                obj=member,
                client=connection.tenant,
                before=before,
                after={"role": role, "is_active": is_active, "user": member.username},
            )
    return member
