"""Creating client companies (tenants) and the platform's own public tenant."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from tenants.models import Client, Domain, host_for, schema_name_for


def ensure_platform() -> Client:
    """The public tenant and the platform host's Domain, created once."""
    with transaction.atomic():
        platform, _ = Client.objects.get_or_create(
            schema_name="public",
            defaults={"slug": "platform", "name": settings.PLATFORM_NAME, "status": Client.Status.ACTIVE},
        )
        Domain.objects.get_or_create(
            domain=settings.PLATFORM_HOST, defaults={"tenant": platform, "is_primary": True}
        )
    return platform


def client_create(*, slug: str, name: str, status: str = Client.Status.PROSPECT) -> Client:
    """A new client company: its schema (cloned from the base), its host ``<slug>.<platform>``."""
    with transaction.atomic():
        client = Client(schema_name=schema_name_for(slug), slug=slug, name=name, status=status)
        client.full_clean()
        client.save()  # creates the schema, inside this transaction
        Domain.objects.create(domain=host_for(slug), tenant=client, is_primary=True)
    return client
