"""Texts with fields: ``{{contact.x}}`` and ``{{answers.y}}`` in what a node says or asks.

A text is parsed once when the script is compiled (``parse_template``) and rendered at each step;
rendering never fails, a missing or odd value becomes its default or an empty string:
- ``{{contact.first_name|there}}``: "there" when the field is empty (a default of its own);
- the script's ``defaults`` (``{"contact.first_name": "there"}``) give every text of the script
  the same default for a field that has none of its own;
- ``[[, {{contact.company}}]]``: a clause left out whole when a field in it is empty;
- a field left empty takes no stray space with it ("Good day {{contact.first_name}}, …" reads
  "Good day, …", not "Good day , …").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scripts_engine.comparisons import MISSING

_FIELD = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_REF = re.compile(r"^(contact|answers)\.([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|(.*))?$", re.DOTALL)
_CLAUSE = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)
_PUNCTUATION = tuple(",.;:!?)")


def _display(value: Any) -> str:
    if value is None or value is MISSING:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_display(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class Field:
    source: str  # contact or answers
    name: str
    default: str = ""

    def render(self, contact: Mapping[str, Any], answers: Mapping[str, Any]) -> str:
        source = contact if self.source == "contact" else answers
        try:
            shown = _display(source.get(self.name)).strip()
        except Exception:  # odd contact data must not break a call
            shown = ""
        return shown or self.default


@dataclass(frozen=True)
class Clause:
    """``[[…]]``: shown only when every field in it has a value (or a default)."""

    parts: tuple[str | Field, ...]


def _join(out: list[str], piece: str, *, after_empty: bool) -> None:
    """Append ``piece``; after an empty field, drop the space it would leave doubled or before
    punctuation."""
    if after_empty and out and out[-1].endswith((" ", "\u00a0")) and (piece.startswith((" ", *_PUNCTUATION))):
        out[-1] = out[-1].rstrip(" \u00a0")
    out.append(piece)


@dataclass(frozen=True)
class Template:
    """A text with ``{{contact.x}}`` / ``{{answers.y}}`` fields and ``[[…]]`` clauses, parsed once."""

    parts: tuple[str | Field | Clause, ...]

    @property
    def fields(self) -> tuple[tuple[str, str], ...]:
        found: list[tuple[str, str]] = []
        for part in self.parts:
            for inner in part.parts if isinstance(part, Clause) else (part,):
                if isinstance(inner, Field):
                    found.append((inner.source, inner.name))
        return tuple(found)

    def render(self, contact: Mapping[str, Any], answers: Mapping[str, Any]) -> str:
        """Fill the fields; a missing or odd value renders as its default or empty, never an error."""
        out: list[str] = []
        empty = False
        for part in self.parts:
            if isinstance(part, Clause):
                pieces = [p.render(contact, answers) if isinstance(p, Field) else p for p in part.parts]
                fields = [piece for p, piece in zip(part.parts, pieces, strict=True) if isinstance(p, Field)]
                if all(fields):
                    _join(out, "".join(pieces), after_empty=empty)
                    empty = False
                else:
                    empty = True
                continue
            if isinstance(part, Field):
                shown = part.render(contact, answers)
                if shown:
                    _join(out, shown, after_empty=empty)
                empty = not shown
                continue
            _join(out, part, after_empty=empty)
            empty = False
        return "".join(out)


def _parse_fields(text: str, defaults: Mapping[str, str], bad: list[str]) -> list[str | Field]:
    parts: list[str | Field] = []
    pos = 0
    for m in _FIELD.finditer(text):
        if m.start() > pos:
            parts.append(text[pos : m.start()])
        ref = _REF.match(m.group(1).strip())
        if ref:
            source, name, own = ref.group(1), ref.group(2), ref.group(3)
            default = own.strip() if own is not None else defaults.get(f"{source}.{name}", "")
            parts.append(Field(source, name, default))
        else:
            bad.append(m.group())
            parts.append(m.group())
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    return parts


def parse_template(text: str, *, defaults: Mapping[str, str] | None = None) -> tuple[Template, list[str]]:
    """Split a text into literal parts, fields and clauses; also return the fields that are not
    well formed. ``defaults``: the script's default per field (``"contact.first_name": "there"``)."""
    defaults = defaults or {}
    parts: list[str | Field | Clause] = []
    bad: list[str] = []
    pos = 0
    for m in _CLAUSE.finditer(text):
        parts.extend(_parse_fields(text[pos : m.start()], defaults, bad))
        parts.append(Clause(tuple(_parse_fields(m.group(1), defaults, bad))))
        pos = m.end()
    parts.extend(_parse_fields(text[pos:], defaults, bad))
    return Template(tuple(parts)), bad
