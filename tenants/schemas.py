"""Schema management: the base schema new tenants are cloned from, and tenant creation."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

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


@dataclass(frozen=True)
class CloneTemplate:
    """How to make a schema like the base, as it is at one migration state (``state``).

    ``ddl`` is one script of unqualified statements (tables, constraints, indexes, and the column
    types where the migrated base differs from today's models), run with the new schema first on
    the search path; ``copies`` are the base's tables that hold rows, with the columns to copy.
    Made once per process and migration state: cloning then reads no catalogue at all, so it costs
    the same with ten companies or ten thousand (the catalogue scans it replaced grew with them).
    """

    state: tuple[int, ...]
    ddl: str
    copies: tuple[tuple[str, tuple[str, ...]], ...]


_templates: dict[tuple[int, ...], CloneTemplate] = {}
_templates_lock = threading.Lock()


def clone_base_schema(schema_name: str, *, check_if_exists: bool = False) -> bool:
    """Create a tenant's schema like the base schema: its tables, then the base's rows.

    The tables come from the tenant apps' models through Django's schema editor (the same DDL the
    migrations produce), and the rows (``django_migrations``, content types, permissions…) are
    copied from the base, which every ``migrate_schemas`` keeps current. django-tenants' generic
    ``clone_schema`` reads the whole catalogue and slows down as schemas accumulate; here the
    statements are worked out once per migration state (``CloneTemplate``) and replayed.
    Returns False when there is no base schema to copy from.
    """
    if check_if_exists and schema_exists(schema_name):
        return True
    base = base_schema_name()
    state = _base_state(base)
    if state is None:
        log.warning("no base schema %r: creating %r by running migrations", base, schema_name)
        return False
    previous = connection.tenant
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE SCHEMA "{schema_name}"')
            connection.set_schema(schema_name)
            template = _templates.get(state)
            if template is None:
                template = _make_template(base, schema_name, state)
            else:
                with connection.cursor() as cursor:
                    cursor.execute(template.ddl)
            _copy_rows(base, schema_name, template.copies)
    finally:
        connection.set_tenant(previous)
    return True


def forget_clone_templates() -> None:
    """Drop the templates this process made (the next clone makes one anew)."""
    with _templates_lock:
        _templates.clear()


def _base_state(base: str) -> tuple[int, ...] | None:
    """What the base's rows are at: its migrations, content types and permissions (one query);
    None when there is no migrated base."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f'"{base}".django_migrations'])
        if not cursor.fetchone()[0]:
            return None
        cursor.execute(
            f'SELECT (SELECT COUNT(*) FROM "{base}".django_migrations),'  # noqa: S608
            f' (SELECT COALESCE(MAX(id), 0) FROM "{base}".django_migrations),'
            f' (SELECT COUNT(*) FROM "{base}".django_content_type),'
            f' (SELECT COUNT(*) FROM "{base}".auth_permission)'
        )
        return tuple(cursor.fetchone())


def tenant_models() -> list[type[models.Model]]:
    """The concrete models whose tables live in every tenant's schema."""
    labels = {config.label for config in apps.get_app_configs() if config.name in settings.TENANT_APPS}
    return [
        model
        for model in apps.get_models()
        if model._meta.app_label in labels and model._meta.managed and not model._meta.proxy
    ]


def _model_ddl() -> list[str]:
    """The tables' DDL as the schema editor writes it, collected rather than run."""
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        for model in [MigrationRecorder.Migration, *tenant_models()]:
            editor.create_model(model)
    return list(editor.collected_sql)


def _make_template(base: str, schema_name: str, state: tuple[int, ...]) -> CloneTemplate:
    """Create ``schema_name``'s tables (the connection is in it) and record how, for the next."""
    statements = _model_ddl()
    with connection.cursor() as cursor:
        cursor.execute("\n".join(statements))
        alter = _type_alignment(cursor, base, schema_name)
        if alter:
            cursor.execute("\n".join(alter))
        copies = _copies(cursor, base, schema_name)
    template = CloneTemplate(state=state, ddl="\n".join(statements + alter), copies=copies)
    with _templates_lock:
        _templates.clear()  # one migration state at a time
        _templates[state] = template
    return template


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


def _type_alignment(cursor, base: str, schema_name: str) -> list[str]:
    """Where today's models and the migrated base disagree on a type (e.g. an old auto-created
    table's integer id), the base wins: it is what every existing tenant has."""
    wanted, made = _column_types(cursor, base), _column_types(cursor, schema_name)
    quote = connection.ops.quote_name
    return [
        f"ALTER TABLE {quote(table)} ALTER COLUMN {quote(column)} TYPE {wanted[table, column]};"
        for (table, column), kind in sorted(made.items())
        if wanted.get((table, column), kind) != kind
    ]


def _copies(cursor, base: str, schema_name: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The base's tables that hold rows, with the columns both sides have (order may differ)."""
    source, target = _columns(cursor, base), _columns(cursor, schema_name)
    copies = []
    for table, columns in sorted(target.items()):
        shared = tuple(c for c in columns if c in set(source.get(table, [])))
        if not shared:
            continue
        cursor.execute(f'SELECT EXISTS (SELECT 1 FROM "{base}"."{table}")')  # noqa: S608
        if cursor.fetchone()[0]:
            copies.append((table, shared))
    return tuple(copies)


def _copy_rows(base: str, schema_name: str, copies: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
    """The base's rows, column by column, and sequences past them."""
    with connection.cursor() as cursor:
        for table, columns in copies:
            names = ", ".join(f'"{c}"' for c in columns)
            # Identifiers from the catalogue and a validated schema name, not from user input.
            cursor.execute(
                f'INSERT INTO "{schema_name}"."{table}" ({names}) SELECT {names} FROM "{base}"."{table}"'  # noqa: S608
            )
            if "id" in columns:
                target = f'"{schema_name}"."{table}"'
                restart = f'COALESCE((SELECT MAX("id") FROM {target}), 0) + 1'  # noqa: S608
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, 'id'), {restart}, false)"
                    " WHERE pg_get_serial_sequence(%s, 'id') IS NOT NULL",
                    [target, target],
                )
