"""A contract's terms per queue (issue 20): each queue's service-level target, reserved seats and
cap, as the contract, its order, its PDF and the router's queues carry them. Pure (no Django models):
the contract's models, forms and provisioning all read them through ``queue_terms``."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError

DEFAULT_SL_PERCENT = 80
DEFAULT_SL_SECONDS = 20
DEFAULT_QUEUE_NAME = "Main"
# The bounds of a queue's terms, the same on the order form, the contract form and ``clean_queue_rows``.
SL_PERCENT_RANGE = (1, 100)
SL_SECONDS_RANGE = (5, 300)
MOST_RESERVED_SEATS = 500
MOST_SEATS = 1000
MOST_QUEUES = 20
# The queue terms of a contract version of the first form: one flat set for the company.
LEGACY_QUEUE_KEYS = frozenset(
    {"sl_percent", "sl_seconds", "reserved_seats", "max_seats", "max_share_percent"}
)
QUEUE_NAME_LENGTH = 80  # telephony.Queue.name


@dataclass(frozen=True)
class QueueTerms:
    """One row of a contract's per-queue terms (issue 20): the queue's name, its service-level
    target (``sl_percent`` % of calls answered within ``sl_seconds``), optionally reserved seats and
    a cap (``max_seats`` operators and/or ``max_share_percent`` % of the operators logged in, the
    lower of the two; each queue's own, not the company's total)."""

    name: str
    sl_percent: int = DEFAULT_SL_PERCENT
    sl_seconds: int = DEFAULT_SL_SECONDS
    reserved_seats: int = 0
    max_seats: int | None = None
    max_share_percent: int | None = None

    def as_terms(self) -> dict[str, object]:
        return {
            "name": self.name, "sl_percent": self.sl_percent, "sl_seconds": self.sl_seconds,
            "reserved_seats": self.reserved_seats, "max_seats": self.max_seats,
            "max_share_percent": self.max_share_percent,
        }  # fmt: skip

    @property
    def target(self) -> str:
        return f"{self.sl_percent} % in {self.sl_seconds} s"

    @property
    def cap(self) -> str:
        """The cap in words ("" without one)."""
        caps = [f"{self.max_seats} operators"] if self.max_seats else []
        caps += [f"{self.max_share_percent} % of the pool"] if self.max_share_percent else []
        return " or ".join(caps) + (" (the lower)" if len(caps) == 2 else "")


@dataclass(frozen=True)
class QueueTermsSet:
    """A contract version's queue terms: its rows, the first one the company's main (default)
    queue. ``others``: a service level (percent, seconds) for the queues no row names, which only
    a contract of the first form (one flat set of terms) has; a per-queue contract leaves those
    queues as they are."""

    rows: tuple[QueueTerms, ...]
    others: tuple[int, int] | None = None

    @property
    def main(self) -> QueueTerms:
        return self.rows[0]

    @property
    def legacy(self) -> bool:
        return self.others is not None


def queue_terms(terms: dict[str, object]) -> QueueTermsSet:
    """The one reader of a contract version's queue terms, old and new.

    A version with ``queues`` (a list of rows) is read as it is; an old version with the flat keys
    (``sl_percent``, ``sl_seconds``, ``reserved_seats``, ``max_seats``, ``max_share_percent``) is one
    row for the main queue (``Main``; applied to the company's default queue whatever its name) and
    its service level for every other queue, as those versions were applied. Terms without either
    give the standard row."""
    rows = terms.get("queues")
    if rows:
        return QueueTermsSet(tuple(row_from_terms(row) for row in rows))  # type: ignore[union-attr]
    sl = (
        int(terms.get("sl_percent") or DEFAULT_SL_PERCENT),  # type: ignore[arg-type]
        int(terms.get("sl_seconds") or DEFAULT_SL_SECONDS),  # type: ignore[arg-type]
    )
    main = QueueTerms(
        name=DEFAULT_QUEUE_NAME,
        sl_percent=sl[0],
        sl_seconds=sl[1],
        reserved_seats=int(terms.get("reserved_seats") or 0),  # type: ignore[arg-type]
        max_seats=_optional(terms.get("max_seats")),
        max_share_percent=_optional(terms.get("max_share_percent")),
    )
    return QueueTermsSet((main,), others=sl)


def _optional(value: object) -> int | None:
    return int(value) if value not in (None, "", 0) else None  # type: ignore[arg-type]


def row_from_terms(row: dict[str, object]) -> QueueTerms:
    return QueueTerms(
        name=str(row["name"]),
        sl_percent=int(row.get("sl_percent") or DEFAULT_SL_PERCENT),  # type: ignore[arg-type]
        sl_seconds=int(row.get("sl_seconds") or DEFAULT_SL_SECONDS),  # type: ignore[arg-type]
        reserved_seats=int(row.get("reserved_seats") or 0),  # type: ignore[arg-type]
        max_seats=_optional(row.get("max_seats")),
        max_share_percent=_optional(row.get("max_share_percent")),
    )


def row_errors(row: dict[str, object]) -> dict[str, str]:
    """What is wrong with one queue row (field → message); empty when it is right."""
    errors: dict[str, str] = {}
    name = str(row.get("name") or "").strip()
    if not name:
        errors["name"] = "Name the queue, e.g. Main or Sales."
    elif len(name) > QUEUE_NAME_LENGTH:
        errors["name"] = f"A queue's name has at most {QUEUE_NAME_LENGTH} characters."
    bounds = {
        "sl_percent": (*SL_PERCENT_RANGE, True), "sl_seconds": (*SL_SECONDS_RANGE, True),
        "reserved_seats": (0, MOST_RESERVED_SEATS, False), "max_seats": (1, MOST_SEATS, False),
        "max_share_percent": (1, 100, False),
    }  # fmt: skip
    for field, (low, high, required) in bounds.items():
        value = row.get(field)
        if value in (None, ""):
            if required:
                errors[field] = "This field is required."
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            errors[field] = "Enter a whole number."
        elif not low <= value <= high:
            errors[field] = f"Enter a number from {low} to {high}."
    reserved, most = row.get("reserved_seats") or 0, row.get("max_seats")
    if not errors and most is not None and reserved > most:  # type: ignore[operator]
        errors["max_seats"] = f"The maximum ({most}) cannot be fewer than the reserved seats ({reserved})."
    return errors


def clean_queue_rows(rows: object) -> list[dict[str, object]]:
    """The queue rows of a contract's terms, checked: at least one, each right (``row_errors``),
    names unique (case and spaces aside). Raises ``ValidationError`` with every problem found."""
    if not isinstance(rows, list) or not rows:
        raise ValidationError("The contract names at least one queue with its service level.")
    if len(rows) > MOST_QUEUES:
        raise ValidationError(f"A contract names at most {MOST_QUEUES} queues.")
    problems, cleaned, seen = [], [], set()
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            problems.append(f"Queue {number}: not a row of terms.")
            continue
        for field, message in row_errors(row).items():
            problems.append(f"Queue {number} ({field}): {message}")
        name = " ".join(str(row.get("name") or "").split())
        if name.casefold() in seen:
            problems.append(f"Queue {number}: the name {name!r} is given twice; each queue once.")
        seen.add(name.casefold())
        cleaned.append({**row, "name": name})
    if problems:
        raise ValidationError(problems)
    return [row_from_terms(row).as_terms() for row in cleaned]


def seats_sentence(terms: dict[str, object]) -> str:
    """How the shared pool of operators serves the client, as the contract says it (issue 20); the
    service level, reserved seats and cap of each queue follow in a table (page and PDF)."""
    found = queue_terms(terms)
    parts = [
        "Operators are shared between the provider's clients; when they are short, the next free "
        "operator takes the call of the client furthest behind its own service level, and a call "
        "waiting past the provider's hard limit is answered first whoever it belongs to."
    ]
    if any(row.reserved_seats for row in found.rows):
        parts.append(
            "Reserved operators of a queue are not given to another client while that queue's calls wait."
        )
    if any(row.max_seats or row.max_share_percent for row in found.rows):
        parts.append(
            "While other clients' calls wait, a queue's calls take at most its cap of operators at once "
            "(a percent is of the operators logged in; the lower of the two when both are set)."
        )
    if found.legacy:
        parts.append("The main queue's service level applies to each other queue of the client.")
    else:
        parts.append("Queues the contract does not name keep the service level set for them.")
    return " ".join(parts)
