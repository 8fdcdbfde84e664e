"""Runs a script: which step comes next given the answers so far. Pure Python, no I/O.

The same interpreter serves the operator console, the IVR webhook and the browser test-run. It
keeps no state between calls: the caller passes the contact, the answers (node id -> normalised
value), the nodes already acknowledged (``seen``: says, handovers, transfers that came back) and,
after going back, the node to ``reopen``. The path is recomputed from the start each time, so
changing an earlier answer re-routes the call while every answer given stays in the answers.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from scripts_engine.graph import AutomaticOption, Node, Problem, compile_graph

OPERATOR = "operator"
AUTOMATIC = "automatic"
NO_INPUT = None
"""Store this as an automatic node's answer when the caller gave no (usable) input."""

_ACKNOWLEDGED = frozenset({"say", "handover"})
_YES = frozenset({"yes", "y", "true", "1", "ja", "oui", "si", "sí"})
_NO = frozenset({"no", "n", "false", "0", "nein", "non"})
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_NUMBER = re.compile(r"[+-]?\d{1,15}(?:\.\d{1,15})?")
_PHONE_CHARS = re.compile(r"^\+?[0-9 ()./-]+$")
_WORDS = re.compile(r"[^\W_]+", re.UNICODE)
_DIGIT_WORDS = {
    "zero": "0",
    "oh": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}


class InvalidScript(ValueError):
    """Raised when a graph that fails validation is given to the interpreter."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        summary = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"the script is not valid: {summary}{more}")


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
        }


class Answer(NamedTuple):
    """``(ok, value)``: the normalised value when ok, otherwise a message for the operator."""

    ok: bool
    value: Any

    @property
    def error(self) -> str | None:
        return None if self.ok else self.value


def _spec(node: Node) -> QuestionSpec | None:
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


class Interpreter:
    """A compiled, approved-shape script; build one per script version and reuse it."""

    def __init__(self, graph: Any) -> None:
        compiled = compile_graph(graph)
        if compiled.problems:
            raise InvalidScript(compiled.problems)
        self.start = compiled.start
        self.nodes: dict[str, Node] = compiled.nodes
        self.dispositions = compiled.dispositions
        self.specialists = compiled.specialists
        self._specs = {nid: _spec(n) for nid, n in self.nodes.items()}
        self._required = {nid: s.required for nid, s in self._specs.items() if s is not None}
        self._by_value = {
            nid: {o.value: o.next for o in n.options}
            for nid, n in self.nodes.items()
            if n.kind == "automatic"
        }
        self._patterns = {nid: re.compile(s.pattern) for nid, s in self._specs.items() if s and s.pattern}
        self._limit = len(self.nodes) + 1

    def step(
        self,
        *,
        contact: Mapping[str, Any] | None = None,
        answers: Mapping[str, Any] | None = None,
        seen: Collection[str] = (),
        reopen: str | None = None,
    ) -> Step:
        """The current step: walk from the start, passing answered and acknowledged nodes.

        A node met a second time closes a loop: the step is returned with ``repeat`` set and the
        ``loop`` nodes listed, to be asked again after ``new_round``.
        """
        contact = contact if isinstance(contact, Mapping) else {}
        answers = answers if isinstance(answers, Mapping) else {}
        if not isinstance(seen, (set, frozenset)):
            seen = frozenset(x for x in seen if isinstance(x, str))
        nodes, required, by_value = self.nodes, self._required, self._by_value
        node_id = self.start
        path: list[str] = []
        on_path: set[str] = set()
        mode = OPERATOR
        for _ in range(self._limit):
            node = nodes[node_id]
            if node_id in on_path:
                loop = tuple(path[path.index(node_id) :])
                path.append(node_id)
                return self._make(node, mode, path, contact, answers, repeat=True, loop=loop)
            on_path.add(node_id)
            path.append(node_id)
            kind = node.kind
            if kind == "branch":
                target = node.otherwise
                for condition, case_next in node.cases:
                    if condition(answers, contact):
                        target = case_next
                        break
                node_id = target
                continue
            if kind == "automatic":
                mode = AUTOMATIC
            if node_id == reopen:
                return self._make(node, mode, path, contact, answers)
            if kind == "question":
                if answers.get(node_id) is not None or (node_id in answers and not required[node_id]):
                    node_id = node.next
                    continue
            elif kind == "automatic":
                if node_id in answers:
                    value = answers[node_id]
                    if value is None:
                        node_id = node.timeout_next
                        continue
                    target = by_value[node_id].get(value) if isinstance(value, str) else None
                    if target is not None:
                        node_id = target
                        continue
            elif node_id in seen and (
                kind in _ACKNOWLEDGED or (kind == "transfer" and node.next is not None)
            ):
                if kind == "handover":
                    mode = OPERATOR
                node_id = node.next
                continue
            return self._make(node, mode, path, contact, answers)
        return self._make(nodes[node_id], mode, path, contact, answers)

    def _make(
        self,
        node: Node,
        mode: str,
        path: list[str],
        contact: Mapping[str, Any],
        answers: Mapping[str, Any],
        *,
        repeat: bool = False,
        loop: tuple[str, ...] = (),
    ) -> Step:
        return Step(
            node=node.id,
            kind=node.kind,
            mode=mode,
            text=node.text.render(contact, answers) if node.text else "",
            path=tuple(path),
            question=self._specs[node.id],
            options=node.options,
            disposition=node.disposition,
            specialist=node.specialist,
            answered=node.id in answers,
            value=answers.get(node.id),
            repeat=repeat,
            loop=loop,
        )

    def back(
        self,
        current: Step,
        *,
        contact: Mapping[str, Any] | None = None,
        answers: Mapping[str, Any] | None = None,
        seen: Collection[str] = (),
    ) -> Step:
        """The step before ``current`` on its path, reopened; keep its ``node`` as ``reopen``."""
        earlier = [nid for nid in current.path[:-1] if nid in self.nodes and self.nodes[nid].kind != "branch"]
        if not earlier:
            return current
        return self.step(contact=contact, answers=answers, seen=seen, reopen=earlier[-1])

    def new_round(
        self, step: Step, answers: Mapping[str, Any], seen: Collection[str] = ()
    ) -> tuple[dict[str, Any], set[str]]:
        """Answers and seen nodes for another round of the loop ``step`` closed.

        Returns copies without the loop's nodes; the caller keeps the previous round's answers
        (e.g. in its answer log) so that nothing given is lost.
        """
        loop = set(step.loop)
        kept = {k: v for k, v in answers.items() if k not in loop}
        return kept, {s for s in seen if s not in loop}

    def answer(self, node_id: str, raw: Any) -> Answer:
        """Check and normalise a raw answer to a question (or an automatic node's option)."""
        spec = self._specs.get(node_id) if isinstance(node_id, str) else None
        if spec is None:
            return Answer(False, f"{node_id!r} is not a question")
        if self.nodes[node_id].kind == "automatic":
            if raw is None:
                return Answer(True, NO_INPUT)
            if isinstance(raw, str) and raw in self._by_value[node_id]:
                return Answer(True, raw)
            as_text = raw if isinstance(raw, str) else None
            return self.match(node_id, digits=as_text, speech=as_text)
        if _empty(raw):
            if spec.required:
                return Answer(False, "An answer is required.")
            return Answer(True, None)
        try:
            return _CHECKS[spec.type](spec, raw, self._patterns.get(node_id))
        except (TypeError, ValueError, OverflowError, RecursionError):
            return Answer(False, "This answer cannot be read.")

    def match(self, node_id: str, *, digits: str | None = None, speech: str | None = None) -> Answer:
        """The option of an automatic node chosen by keypad ``digits`` or recognised ``speech``."""
        node = self.nodes.get(node_id) if isinstance(node_id, str) else None
        if node is None or node.kind != "automatic":
            return Answer(False, f"{node_id!r} is not an automatic node")
        if isinstance(digits, str) and digits.strip():
            keys = digits.strip()
            for candidate in (keys, keys.rstrip("#")):
                for option in node.options:
                    if option.digits is not None and option.digits == candidate:
                        return Answer(True, option.value)
        if isinstance(speech, str) and speech.strip():
            option = _match_speech(node.options, speech)
            if option is not None:
                return Answer(True, option.value)
        return Answer(False, "No option matches this input.")


def _match_speech(options: tuple[AutomaticOption, ...], speech: str) -> AutomaticOption | None:
    words = [_DIGIT_WORDS.get(w, w) for w in _WORDS.findall(speech.casefold())]
    if not words:
        return None
    text = f" {' '.join(words)} "
    best: tuple[int, int, AutomaticOption] | None = None
    for option in options:
        phrases = list(option.speech)
        if option.digits and len(words) == 1:
            phrases.append(option.digits)
        for phrase in phrases:
            normal = " ".join(_DIGIT_WORDS.get(w, w) for w in _WORDS.findall(phrase.casefold()))
            if not normal:
                continue
            at = text.find(f" {normal} ")
            if at >= 0 and (best is None or (-len(normal), at) < (best[0], best[1])):
                best = (-len(normal), at, option)
    return best[2] if best else None


def _empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip()) or raw in ([], ())


def _check_text(spec: QuestionSpec, raw: Any, pattern: re.Pattern[str] | None) -> Answer:
    if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
        return Answer(False, "Please enter text.")
    value = str(raw).strip()
    if spec.min_length is not None and len(value) < spec.min_length:
        return Answer(False, f"Please enter at least {spec.min_length} characters.")
    if spec.max_length is not None and len(value) > spec.max_length:
        return Answer(False, f"Please enter at most {spec.max_length} characters.")
    if pattern is not None and not pattern.fullmatch(value):
        return Answer(False, "This answer does not have the expected form.")
    return Answer(True, value)


def _check_number(spec: QuestionSpec, raw: Any, _: Any) -> Answer:
    if isinstance(raw, bool):
        return Answer(False, "Please enter a number.")
    if isinstance(raw, (int, float)):
        number: float | int = raw
    elif isinstance(raw, str):
        text = raw.strip().replace(" ", "")
        if "," in text and "." not in text:
            text = text.replace(",", ".")
        if not _NUMBER.fullmatch(text):
            return Answer(False, "Please enter a number.")
        number = float(text) if "." in text else int(text)
    else:
        return Answer(False, "Please enter a number.")
    if isinstance(number, float):
        if not math.isfinite(number):
            return Answer(False, "Please enter a number.")
        if number.is_integer() and abs(number) < 2**53:
            number = int(number)
    if spec.integer and not isinstance(number, int):
        return Answer(False, "Please enter a whole number.")
    if spec.min is not None and number < spec.min:
        return Answer(False, f"The number must be at least {spec.min}.")
    if spec.max is not None and number > spec.max:
        return Answer(False, f"The number must be at most {spec.max}.")
    return Answer(True, number)


def _option(spec: QuestionSpec, raw: Any) -> str | None:
    if not isinstance(raw, str):
        return None
    if raw in spec.options:
        return raw
    wanted = raw.strip().casefold()
    return next((o for o in spec.options if o.strip().casefold() == wanted), None)


def _check_choice(spec: QuestionSpec, raw: Any, _: Any) -> Answer:
    value = _option(spec, raw)
    if value is None:
        return Answer(False, f"Please choose one of: {', '.join(spec.options)}.")
    return Answer(True, value)


def _check_multi(spec: QuestionSpec, raw: Any, _: Any) -> Answer:
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, (list, tuple)):
        return Answer(False, f"Please choose from: {', '.join(spec.options)}.")
    chosen = set()
    for item in items:
        value = _option(spec, item)
        if value is None:
            return Answer(False, f"{item!r} is not one of: {', '.join(spec.options)}.")
        chosen.add(value)
    if not chosen and spec.required:
        return Answer(False, "Please choose at least one option.")
    return Answer(True, [o for o in spec.options if o in chosen] if chosen else None)


def _check_yes_no(spec: QuestionSpec, raw: Any, _: Any) -> Answer:
    if isinstance(raw, bool):
        return Answer(True, raw)
    if isinstance(raw, int) and raw in (0, 1):
        return Answer(True, raw == 1)
    if isinstance(raw, str):
        word = raw.strip().casefold()
        if word in _YES:
            return Answer(True, True)
        if word in _NO:
            return Answer(True, False)
    return Answer(False, "Please answer yes or no.")


def _check_date(spec: QuestionSpec, raw: Any, _: Any) -> Answer:
    if isinstance(raw, dt.datetime):
        raw = raw.date()
    if isinstance(raw, dt.date):
        value = raw.isoformat()
    elif isinstance(raw, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()):
        try:
            value = dt.date.fromisoformat(raw.strip()).isoformat()
        except ValueError:
            return Answer(False, "This date does not exist.")
    else:
        return Answer(False, "Please enter a date as YYYY-MM-DD.")
    if isinstance(spec.min, str) and value < spec.min:
        return Answer(False, f"The date must be on or after {spec.min}.")
    if isinstance(spec.max, str) and value > spec.max:
        return Answer(False, f"The date must be on or before {spec.max}.")
    return Answer(True, value)


def _check_phone(spec: QuestionSpec, raw: Any, _: Any) -> Answer:
    if not isinstance(raw, str) or not _PHONE_CHARS.fullmatch(raw.strip()):
        return Answer(False, "Please enter a phone number (digits, optionally starting with +).")
    text = raw.strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    international = text.startswith("+") or digits.startswith("00")
    if digits.startswith("00"):
        digits = digits[2:]
    if not 5 <= len(digits) <= 15:
        return Answer(False, "A phone number has between 5 and 15 digits.")
    return Answer(True, f"+{digits}" if international else digits)


def _check_email(spec: QuestionSpec, raw: Any, _: Any) -> Answer:
    if not isinstance(raw, str):
        return Answer(False, "Please enter an e-mail address.")
    text = raw.strip()
    if len(text) > 254 or ".." in text or not _EMAIL.fullmatch(text):
        return Answer(False, "Please enter an e-mail address like name@example.com.")
    local, _, domain = text.rpartition("@")
    return Answer(True, f"{local}@{domain.lower()}")


_CHECKS = {
    "text": _check_text,
    "number": _check_number,
    "choice": _check_choice,
    "multi_choice": _check_multi,
    "yes_no": _check_yes_no,
    "date": _check_date,
    "phone": _check_phone,
    "email": _check_email,
}


@dataclass
class Run:
    """A stateful walk through one script, for the browser test-run and for tests.

    The console and IVR keep the same three things (answers, seen, reopen) in their own storage.
    """

    interpreter: Interpreter
    contact: Mapping[str, Any] = field(default_factory=dict)
    answers: dict[str, Any] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    reopen: str | None = None
    rounds: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> Step:
        """The current step; a closed loop starts a new round, keeping the old one in ``rounds``."""
        step = self._step()
        if step.repeat and step.kind != "end":
            self.rounds.append({k: v for k, v in self.answers.items() if k in step.loop})
            self.answers, self.seen = self.interpreter.new_round(step, self.answers, self.seen)
            step = self._step()
        return step

    def _step(self) -> Step:
        return self.interpreter.step(
            contact=self.contact, answers=self.answers, seen=self.seen, reopen=self.reopen
        )

    def submit(self, raw: Any = None) -> Answer:
        """Answer the current question, pick an automatic option, or acknowledge a say/transfer."""
        step = self.current
        if step.final:
            return Answer(False, "The script has ended.")
        if step.kind in {"question", "automatic"}:
            result = self.interpreter.answer(step.node, raw)
            if result.ok:
                self.answers[step.node] = result.value
                self.reopen = None
            return result
        self.seen.add(step.node)
        self.reopen = None
        return Answer(True, None)

    def back(self) -> Step:
        """Go back one step; answers stay, and the path is recomputed when one changes."""
        step = self.interpreter.back(self.current, contact=self.contact, answers=self.answers, seen=self.seen)
        self.reopen = step.node
        return step
