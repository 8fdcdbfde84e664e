"""Texts with fields: ``{{contact.x}}`` and ``{{answers.y}}`` in what a node says or asks.

A text is parsed once when the script is compiled (``parse_template``) and rendered at each step;
rendering never fails, a missing or odd value becomes an empty string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scripts_engine.comparisons import MISSING

_FIELD = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_REF = re.compile(r"^(contact|answers)\.([A-Za-z_][A-Za-z0-9_]*)$")


def _display(value: Any) -> str:
    if value is None or value is MISSING:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_display(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class Template:
    """A text with ``{{contact.x}}`` / ``{{answers.y}}`` fields, parsed once."""

    parts: tuple[str | tuple[str, str], ...]

    @property
    def fields(self) -> tuple[tuple[str, str], ...]:
        return tuple(p for p in self.parts if isinstance(p, tuple))

    def render(self, contact: Mapping[str, Any], answers: Mapping[str, Any]) -> str:
        """Fill the fields; a missing or odd value renders as an empty string, never an error."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            source = contact if part[0] == "contact" else answers
            try:
                out.append(_display(source.get(part[1])))
            except Exception:  # odd contact data must not break a call
                out.append("")
        return "".join(out)


def parse_template(text: str) -> tuple[Template, list[str]]:
    """Split a text into literal parts and fields; also return the fields that are not well formed."""
    parts: list[str | tuple[str, str]] = []
    bad: list[str] = []
    pos = 0
    for m in _FIELD.finditer(text):
        if m.start() > pos:
            parts.append(text[pos : m.start()])
        ref = _REF.match(m.group(1).strip())
        if ref:
            parts.append((ref.group(1), ref.group(2)))
        else:
            bad.append(m.group())
            parts.append(m.group())
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    return Template(tuple(parts)), bad
