"""Schema management: the base schema new tenants are cloned from, and tenant creation."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection, transaction
from django_tenants.clone import CloneSchema
from django_tenants.utils import schema_exists

log = logging.getLogger(__name__)


def base_schema_name() -> str:
    return settings.TENANT_BASE_SCHEMA


def ensure_base_schema() -> bool:
    """Create the (empty) base schema if it is missing; migrate_schemas then migrates it."""
    if schema_exists(base_schema_name()):
        return False
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{base_schema_name()}"')
    return True


def clone_base_schema(schema_name: str, *, check_if_exists: bool = False) -> bool:
    """Copy the base schema (tables, sequences, its django_migrations rows) into a new schema.

    The base is migrated by every ``migrate_schemas``, so the copy is as current as any
    tenant and needs no migration run: this is what makes a new tenant take well under 1 s.
    Returns False when there is no base schema to clone from.
    """
    if check_if_exists and schema_exists(schema_name):
        return True
    if not schema_exists(base_schema_name()):
        log.warning("no base schema %r: creating %r by running migrations", base_schema_name(), schema_name)
        return False
    with transaction.atomic():
        CloneSchema().clone_schema(base_schema_name(), schema_name, "DATA", set_connection=False)
    connection.set_schema_to_public()
    return True
