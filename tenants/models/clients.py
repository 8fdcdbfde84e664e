"""Client companies (tenants) and their hosts, in the public schema."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin
from django_tenants.utils import get_public_schema_name

SLUG_PATTERN = r"^[a-z][a-z0-9-]{1,40}[a-z0-9]$"
RESERVED_SLUGS = frozenset({"www", "api", "admin", "static", "media", "public", "platform", "base"})


def schema_name_for(slug: str) -> str:
    """``acme-corp`` → ``t_acme_corp``: the prefix keeps clear of public, the base and pg_*."""
    return "t_" + re.sub(r"[^a-z0-9]", "_", slug)


def host_for(slug: str) -> str:
    return f"{slug}.{settings.PLATFORM_HOST}"


class ClientQuerySet(models.QuerySet):
    def companies(self) -> ClientQuerySet:
        """The client companies: every row but the platform's own (the ``public`` schema)."""
        return self.exclude(schema_name=get_public_schema_name())


class Client(TenantMixin):
    """A client company; its data lives in its own PostgreSQL schema."""

    class Status(models.TextChoices):
        PROSPECT = "prospect", "Prospect"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        CLOSED = "closed", "Closed"

    slug = models.CharField(
        max_length=42,
        unique=True,
        validators=[RegexValidator(SLUG_PATTERN, "Lower-case letters, digits and hyphens.")],
    )
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROSPECT)
    brand_color = models.CharField(max_length=7, default="#1f5fa8")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    auto_create_schema = True
    auto_drop_schema = False

    objects = ClientQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["prospect", "active", "suspended", "closed"]),
                name="client_status_known",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_platform(self) -> bool:
        return self.schema_name == "public"

    @property
    def host(self) -> str:
        return host_for(self.slug) if not self.is_platform else settings.PLATFORM_HOST

    def create_schema(self, check_if_exists=False, sync_schema=True, verbosity=1):
        """Clone the prepared base schema; fall back to running migrations without one."""
        from tenants import schemas

        if sync_schema and schemas.clone_base_schema(self.schema_name, check_if_exists=check_if_exists):
            return
        super().create_schema(check_if_exists=check_if_exists, sync_schema=sync_schema, verbosity=0)


class Domain(DomainMixin):
    """A host name that serves one client company (or the platform, for the public schema)."""
