"""Models read by hand-written SQL on the hot paths (the ORM's compiling cost more than the query)."""

from __future__ import annotations

from typing import Any

from django.db import connection


def columns(model: type) -> str:
    """Every column of ``model``, qualified by its table, in ``load``'s order."""
    table = model._meta.db_table
    return ", ".join(f'"{table}"."{f.column}"' for f in model._meta.concrete_fields)


def load(model: type, values: tuple) -> Any:
    """The instance of a row selected with ``columns(model)`` (each field's ``from_db_value`` run)."""
    fields = model._meta.concrete_fields
    values = tuple(
        f.from_db_value(v, None, connection) if hasattr(f, "from_db_value") else v
        for f, v in zip(fields, values, strict=True)
    )
    return model.from_db("default", [f.attname for f in fields], values)
