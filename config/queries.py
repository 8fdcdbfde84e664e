"""Small query helpers the ORM lacks."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


def json_key(data: object, key: str) -> Any:
    """``data[key]`` of a JSON field's value read whole (None when it is not an object or lacks it).

    Read a JSON field whole and take its keys here rather than naming them in ``values()`` /
    ``values_list()`` (``"data__sid"``): Django resolves such a name by trying it as a field first
    and keeps the ``FieldError`` it caught, whose traceback holds every frame of the request in a
    reference cycle (the view, each middleware, the handler, with all their locals). A web process
    made tens of thousands of such objects a minute, all left for a garbage collection that paused
    it (issue 23: ``config/request_release.py``). A key in a ``filter()`` is fine."""
    return data.get(key) if isinstance(data, dict) else None


def one(rows: QuerySet[M]) -> M | None:
    """The row a unique lookup (the pk, a unique field) selects, else None.

    ``.first()`` would order the lookup by the model's ``Meta.ordering`` (or its pk) first: nothing
    to order in one row, and resolving the ordering costs more CPU than the rest of the query
    (0.67 against 0.42 ms for a call by its pk, measured for issue 23). A call's webhooks and tasks
    make about 35 such lookups a call."""
    return next(iter(rows.order_by()[:1]), None)
