"""A step of a running script: what the console shows, the IVR plays and the test-run draws.

``Step`` is where the call is; ``QuestionSpec`` what an answer field needs; ``Answer`` the result
of checking an input. The interpreter makes them; sessions, the console and the IVR read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from scripts_engine.graph import AutomaticOption, Node

OPERATOR = "operator"
AUTOMATIC = "automatic"


@dataclass(frozen=True)
class QuestionSpec:
    """What the console needs to draw an answer field and what ``answer`` checks."""

    type: str
    required: bool = True
    options: tuple[str, ...] = ()
    min: Any = None
    max: Any = None
    integer: bool = False
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Step:
    """Where the call is in the script, ready to show (console, test-run) or play (IVR)."""

    node: str
    kind: str
    mode: str
    text: str
    path: tuple[str, ...]
    question: QuestionSpec | None = None
    options: tuple[AutomaticOption, ...] = ()
    disposition: str | None = None
    specialist: str | None = None
    answered: bool = False
    value: Any = None
    repeat: bool = False
    loop: tuple[str, ...] = ()
    sensitive: bool = False  # card data is taken here: the call's recording is paused (PCI)

    @property
    def final(self) -> bool:
        """True at an end node or a transfer that ends the call."""
        return self.kind == "end" or (self.kind == "transfer" and self.disposition is not None)

    @property
    def prompt(self) -> str:
        return self.text

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form for the console socket and the browser test-run."""
        return {
            "node": self.node,
            "kind": self.kind,
            "mode": self.mode,
            "text": self.text,
            "path": list(self.path),
            "question": self.question.as_dict() if self.question else None,
            "options": [
                {"value": o.value, "digits": o.digits, "speech": list(o.speech)} for o in self.options
            ],
            "disposition": self.disposition,
            "specialist": self.specialist,
            "answered": self.answered,
            "value": self.value,
            "repeat": self.repeat,
            "loop": list(self.loop),
            "final": self.final,
            "sensitive": self.sensitive,
        }


class Answer(NamedTuple):
    """``(ok, value)``: the normalised value when ok, otherwise a message for the operator."""

    ok: bool
    value: Any

    @property
    def error(self) -> str | None:
        return None if self.ok else self.value


def question_spec(node: Node) -> QuestionSpec | None:
    """The answer field of a question or automatic node; None for the other kinds."""
    raw = node.raw
    if node.kind == "automatic":
        return QuestionSpec("choice", True, tuple(o.value for o in node.options))
    if node.kind != "question":
        return None
    return QuestionSpec(
        type=raw["type"],
        required=raw.get("required", True),
        options=tuple(raw.get("options", ())),
        min=raw.get("min"),
        max=raw.get("max"),
        integer=raw.get("integer", False),
        min_length=raw.get("min_length"),
        max_length=raw.get("max_length"),
        pattern=raw.get("pattern"),
    )
