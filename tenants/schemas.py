"""Schema management: the base schema new tenants are cloned from, and tenant creation."""

from __future__ import annotations

import logging

from django.apps import apps
from django.conf import settings
from django.db import connection, models, transaction
from django.db.migrations.recorder import MigrationRecorder
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
    """Create a tenant's schema like the base schema: its tables, then the base's rows.

    The tables come from the tenant apps' models through Django's schema editor, the same DDL
    the migrations produce, and the rows (``django_migrations``, content types, permissions…)
    are copied from the base, which every ``migrate_schemas`` keeps current. It costs a few
    statements per table, whatever the number of tenants: django-tenants' generic
    ``clone_schema`` reads the whole catalogue and slows down as schemas accumulate.
    Returns False when there is no base schema to copy from.
    """
    if check_if_exists and schema_exists(schema_name):
        return True
    base = base_schema_name()
    if not schema_exists(base):
        log.warning("no base schema %r: creating %r by running migrations", base, schema_name)
        return False
    previous = connection.tenant
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE SCHEMA "{schema_name}"')
            connection.set_schema(schema_name)
            MigrationRecorder(connection).ensure_schema()
            with connection.schema_editor() as editor:
                for model in tenant_models():
                    editor.create_model(model)
            _align_column_types(base, schema_name)
            _copy_rows(base, schema_name)
    finally:
        connection.set_tenant(previous)
    return True


def tenant_models() -> list[type[models.Model]]:
    """The concrete models whose tables live in every tenant's schema."""
    labels = {config.label for config in apps.get_app_configs() if config.name in settings.TENANT_APPS}
    return [
        model
        for model in apps.get_models()
        if model._meta.app_label in labels and model._meta.managed and not model._meta.proxy
    ]


def _columns(cursor, schema: str) -> dict[str, list[str]]:
    cursor.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s"
        " ORDER BY table_name, ordinal_position",
        [schema],
    )
    found: dict[str, list[str]] = {}
    for table, column in cursor.fetchall():
        found.setdefault(table, []).append(column)
    return found


def _column_types(cursor, schema: str) -> dict[tuple[str, str], str]:
    cursor.execute(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
        " JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = %s::regnamespace"
        " AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped",
        [schema],
    )
    return {(table, column): kind for table, column, kind in cursor.fetchall()}


def _align_column_types(base: str, schema_name: str) -> None:
    """Where today's models and the migrated base disagree on a type (e.g. an old auto-created
    table's integer id), the base wins: it is what every existing tenant has."""
    with connection.cursor() as cursor:
        wanted, made = _column_types(cursor, base), _column_types(cursor, schema_name)
        for (table, column), kind in made.items():
            if wanted.get((table, column), kind) != kind:
                target = f'"{schema_name}"."{table}"'
                cursor.execute(f'ALTER TABLE {target} ALTER COLUMN "{column}" TYPE {wanted[table, column]}')


def _copy_rows(base: str, schema_name: str) -> None:
    """The base's rows, column by column (column order may differ), and sequences past them."""
    with connection.cursor() as cursor:
        source, target = _columns(cursor, base), _columns(cursor, schema_name)
        for table, columns in target.items():
            shared = [c for c in columns if c in set(source.get(table, []))]
            if not shared:
                continue
            names = ", ".join(f'"{c}"' for c in shared)
            # Identifiers from the catalogue and a validated schema name, not from user input.
            cursor.execute(
                f'INSERT INTO "{schema_name}"."{table}" ({names}) SELECT {names} FROM "{base}"."{table}"'  # noqa: S608
            )
            if "id" in shared:
                target = f'"{schema_name}"."{table}"'
                restart = f'COALESCE((SELECT MAX("id") FROM {target}), 0) + 1'  # noqa: S608
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, 'id'), {restart}, false)"
                    " WHERE pg_get_serial_sequence(%s, 'id') IS NOT NULL",
                    [target, target],
                )
