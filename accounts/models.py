"""People: one user table per schema.

In the public schema a user is platform staff (operator, supervisor, account manager, admin);
in a tenant's schema a user is one of that client company's staff (admin, editor, viewer).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import connection, models
from django.db.models import Q


class Role(models.TextChoices):
    OPERATOR = "operator", "Operator"
    SUPERVISOR = "supervisor", "Supervisor"
    ACCOUNT_MANAGER = "account_manager", "Account manager"
    PLATFORM_ADMIN = "platform_admin", "Platform admin"
    CLIENT_ADMIN = "client_admin", "Client admin"
    CLIENT_EDITOR = "client_editor", "Editor"
    CLIENT_VIEWER = "client_viewer", "Viewer"


PLATFORM_ROLES = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.ACCOUNT_MANAGER, Role.PLATFORM_ADMIN})
CLIENT_ROLES = frozenset({Role.CLIENT_ADMIN, Role.CLIENT_EDITOR, Role.CLIENT_VIEWER})


def roles_for_current_schema() -> frozenset[str]:
    """Platform roles in the public schema, client roles in a tenant's."""
    return PLATFORM_ROLES if connection.schema_name == "public" else CLIENT_ROLES


class User(AbstractUser):
    role = models.CharField(max_length=32, choices=Role.choices)
    display_name = models.CharField(
        max_length=150, blank=True, help_text="The name clients may see (e.g. an operator's first name)."
    )

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(role__in=Role.values), name="user_role_known")]

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        super().clean()
        if self.role not in roles_for_current_schema():
            raise ValidationError({"role": "This role does not exist here."})

    def has_role(self, *roles: str) -> bool:
        return self.is_active and self.role in roles

    @property
    def invited(self) -> bool:
        """Invited and waiting: active, never logged in, no password chosen yet (the invitation's
        link, a fresh one, or "Forgot your password?" lets them choose one)."""
        return self.is_active and self.last_login is None and not self.has_usable_password()

    @property
    def shown_name(self) -> str:
        return self.display_name or self.get_full_name() or self.username
