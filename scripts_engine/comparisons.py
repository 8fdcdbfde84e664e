"""How a branch condition compares values while a call runs.

Stored answers and contact data are loosely typed (a number typed as text, "yes" for true, a
choice in other case), so comparisons are lenient: equality ignores case and surrounding space,
reads numbers out of text and yes/no words as booleans; anything missing or odd compares false,
never raises. ``expressions`` compiles conditions into closures over these.
"""

from __future__ import annotations

from typing import Any

MISSING: Any = object()
"""A field the answers or the contact do not have (distinct from a stored ``None``)."""


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _as_num(x: Any) -> Any:
    if _is_num(x):
        return x
    if isinstance(x, str):
        try:
            return float(x.strip().replace(",", "."))
        except ValueError:
            return None
    return None


def equal(left: Any, right: Any) -> bool:
    """``==``: text without case or surrounding space, numbers also from text, yes/no words as booleans."""
    if left is MISSING or right is MISSING or left is None or right is None:
        return False
    if isinstance(left, bool) or isinstance(right, bool):
        if isinstance(left, str):
            left = left.strip().lower() in {"yes", "true", "1", "y"}
        if isinstance(right, str):
            right = right.strip().lower() in {"yes", "true", "1", "y"}
        return left is right
    if _is_num(left) or _is_num(right):
        a, b = _as_num(left), _as_num(right)
        return a is not None and b is not None and a == b
    if isinstance(left, str) and isinstance(right, str):
        return left.strip().casefold() == right.strip().casefold()
    return left == right


def order(op: str, left: Any, right: Any) -> bool:
    """``<``, ``<=``, ``>``, ``>=`` (``op``) between numbers (also from text) or between texts."""
    if left is MISSING or right is MISSING or left is None or right is None:
        return False
    if _is_num(left) or _is_num(right):
        left, right = _as_num(left), _as_num(right)
        if left is None or right is None:
            return False
    elif not (isinstance(left, str) and isinstance(right, str)):
        return False
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right


def contains(container: Any, item: Any) -> bool:
    """``in``: does the list or tuple ``container`` hold a value ``equal`` to ``item``?"""
    if container is MISSING or item is MISSING or item is None:
        return False
    if not isinstance(container, (list, tuple)):
        return False
    return any(equal(item, x) for x in container)
