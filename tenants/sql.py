"""Reads across schemas for the tenants app: catalogue look-ups and per-schema counts.

Schema names come from ``tenants_client`` (validated by django-tenants) and are quoted as
identifiers; every value is a parameter.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db import connection

# Schemas read by one statement: each holds a lock on every table and index it reads there until
# the statement's transaction ends (the lock table is shared: ~6,400 slots by default).
SCHEMAS_A_STATEMENT = 200


def batches(schemas: list[str]) -> Iterator[list[str]]:
    """``schemas`` in runs of ``SCHEMAS_A_STATEMENT``, one statement's worth each."""
    for start in range(0, len(schemas), SCHEMAS_A_STATEMENT):
        yield schemas[start : start + SCHEMAS_A_STATEMENT]


def schemas_with_table(cursor, *, schemas: list[str], table: str) -> set[str]:
    """Which of ``schemas`` hold ``table`` (one look-up on the catalogue's name index)."""
    cursor.execute(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relname = %s AND n.nspname = ANY(%s)",
        [table, schemas],
    )
    return {row[0] for row in cursor.fetchall()}


def missing_migrations(cursor, *, schemas: list[str], wanted: list[str]) -> list[tuple[str, list[str]]]:
    """For each schema, which of the ``wanted`` migrations (``app.name``) it has not recorded."""
    quote = connection.ops.quote_name
    parts = [
        f"SELECT %s, ARRAY(SELECT key FROM wanted EXCEPT"  # noqa: S608
        f" SELECT app || '.' || name FROM {quote(schema)}.django_migrations)"
        for schema in schemas
    ]
    cursor.execute(
        "WITH wanted(key) AS (SELECT unnest(%s::text[])) " + " UNION ALL ".join(parts), [wanted, *schemas]
    )
    return [(schema, list(missing)) for schema, missing in cursor.fetchall()]


def record_migrations(cursor, *, schema: str, keys: list[str]) -> None:
    """Record migrations (``app.name``) as applied in ``schema``, as Django's migrate would."""
    apps, names = zip(*(key.split(".", 1) for key in keys), strict=True)
    cursor.execute(
        f"INSERT INTO {connection.ops.quote_name(schema)}.django_migrations (app, name, applied)"  # noqa: S608
        " SELECT app, name, now() FROM unnest(%s::text[], %s::text[]) AS m(app, name)",
        [list(apps), list(names)],
    )
