"""A certification quiz as its authors write it and as it is scored (R14): pure, no database.

The format, one question per block (blank lines between blocks)::

    ? How many days does a customer have to return an order?
    - 14
    + 30
    - 60

``?`` starts a question, ``+`` is a correct choice, ``-`` a wrong one. A question needs 2 to 8
choices and at least one correct; with several correct choices the operator must pick exactly
those. Errors name the line, so the author can fix the text they typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_QUESTIONS = 50
MAX_CHOICES = 8
MAX_TEXT = 500


class QuizError(ValueError):
    """The quiz text or an attempt's answers are not acceptable; the message says why."""


@dataclass(frozen=True)
class Question:
    text: str
    choices: tuple[str, ...]
    correct: frozenset[int]

    def as_json(self) -> dict[str, Any]:
        return {"text": self.text, "choices": list(self.choices), "correct": sorted(self.correct)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Question:
        return cls(data["text"], tuple(data["choices"]), frozenset(data["correct"]))


def _finish(question: tuple[int, str, list[str], set[int]] | None, out: list[Question]) -> None:
    if question is None:
        return
    line, text, choices, correct = question
    if len(choices) < 2:
        raise QuizError(f"Line {line}: the question “{text[:60]}” needs at least 2 choices.")
    if not correct:
        raise QuizError(f"Line {line}: mark at least one choice of “{text[:60]}” correct with +.")
    out.append(Question(text, tuple(choices), frozenset(correct)))


def parse(text: str) -> list[Question]:
    """The questions of a quiz text, or ``QuizError`` naming the first bad line."""
    out: list[Question] = []
    current: tuple[int, str, list[str], set[int]] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        mark, body = line[0], line[1:].strip()
        if mark not in "?+-":
            raise QuizError(
                f"Line {number}: start it with ? (a question), + (a correct choice) or - (a wrong one)."
            )
        if not body:
            raise QuizError(f"Line {number}: the text after “{mark}” is empty.")
        if len(body) > MAX_TEXT:
            raise QuizError(f"Line {number}: keep it under {MAX_TEXT} characters.")
        if mark == "?":
            _finish(current, out)
            current = (number, body, [], set())
            continue
        if current is None:
            raise QuizError(f"Line {number}: a choice before any question (start with “? …”).")
        _, _, choices, correct = current
        if len(choices) == MAX_CHOICES:
            raise QuizError(f"Line {number}: a question has at most {MAX_CHOICES} choices.")
        if body in choices:
            raise QuizError(f"Line {number}: “{body[:60]}” is a choice of this question already.")
        if mark == "+":
            correct.add(len(choices))
        choices.append(body)
    _finish(current, out)
    if not out:
        raise QuizError("Write at least one question (a line starting with “? ”).")
    if len(out) > MAX_QUESTIONS:
        raise QuizError(f"A quiz has at most {MAX_QUESTIONS} questions; this one has {len(out)}.")
    return out


def check_pass_percent(value: Any) -> int:
    """The pass mark as a whole percent from 1 to 100."""
    try:
        percent = int(value)
    except (TypeError, ValueError):
        raise QuizError("The pass mark is a whole number of percent, e.g. 80.") from None
    if not 1 <= percent <= 100:
        raise QuizError("The pass mark is between 1 and 100 percent.")
    return percent


def answers_parse(raw: Any, questions: list[Question]) -> list[frozenset[int]]:
    """An attempt's answers: ``{"1": [0], "2": [1, 2], …}`` (question number → chosen choice
    indexes, every question answered), or ``QuizError`` saying which answer is wrong."""
    if not isinstance(raw, Mapping):
        raise QuizError("The answers are an object of question number → chosen choices.")
    extra = set(raw) - {str(n) for n in range(1, len(questions) + 1)}
    if extra:
        raise QuizError(f"There is no question {sorted(extra)[0]} in this quiz.")
    chosen: list[frozenset[int]] = []
    for number, question in enumerate(questions, start=1):
        picks = raw.get(str(number))
        if picks is None or picks == []:
            raise QuizError(f"Answer question {number}.")
        if not isinstance(picks, list) or not all(
            isinstance(p, int) and not isinstance(p, bool) for p in picks
        ):
            raise QuizError(f"The answer to question {number} is a list of choice numbers.")
        if any(not 0 <= p < len(question.choices) for p in picks):
            raise QuizError(f"Question {number} has no such choice.")
        chosen.append(frozenset(picks))
    return chosen


def score(questions: list[Question], chosen: list[frozenset[int]]) -> int:
    """The percent of questions answered exactly right (every correct choice, no wrong one),
    rounded down: a pass mark of 80 % is never met by 79.9 %."""
    right = sum(1 for question, picks in zip(questions, chosen, strict=True) if picks == question.correct)
    return right * 100 // len(questions)


def from_script(graph: Any) -> str:
    """The choice questions of a script graph as quiz questions to start from: every option a wrong
    choice (``-``) for the author to mark the right ones (``+``), then to add knowledge-base questions."""
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    blocks = []
    for node in (nodes or {}).values():
        if not isinstance(node, dict) or node.get("kind") != "question":
            continue
        options = node.get("options")
        if node.get("type") not in {"choice", "multi_choice"} or not isinstance(options, list):
            continue
        lines = [f"? {node.get('text', '')}".strip()] + [f"- {option}" for option in options]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
