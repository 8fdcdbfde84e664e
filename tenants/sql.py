"""Reads across schemas for the tenants app: catalogue look-ups and per-schema counts.

Schema names come from ``tenants_client`` (validated by django-tenants) and are quoted as
identifiers; every value is a parameter.
"""

from __future__ import annotations

from django.db import connection


def schemas_with_table(cursor, *, schemas: list[str], table: str) -> set[str]:
    """Which of ``schemas`` hold ``table`` (one look-up on the catalogue's name index)."""
    cursor.execute(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relname = %s AND n.nspname = ANY(%s)",
        [table, schemas],
    )
    return {row[0] for row in cursor.fetchall()}


def applied_counts(cursor, *, schemas: list[str], wanted: list[str]) -> list[tuple[str, int]]:
    """For each schema, how many of the ``wanted`` migrations (``app.name``) it has recorded."""
    quote = connection.ops.quote_name
    parts = [
        f"SELECT %s, COUNT(DISTINCT m.app || '.' || m.name) FROM {quote(schema)}.django_migrations m"  # noqa: S608
        " JOIN wanted w ON w.key = m.app || '.' || m.name"
        for schema in schemas
    ]
    cursor.execute(
        "WITH wanted(key) AS (SELECT unnest(%s::text[])) " + " UNION ALL ".join(parts), [wanted, *schemas]
    )
    return [(schema, count) for schema, count in cursor.fetchall()]
