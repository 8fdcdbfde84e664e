"""The small, safe condition language of branch nodes: a tokenizer and a recursive-descent parser.

Conditions are compiled once into Python closures and type-checked against the script (which
answers exist, of what type, with which options). Nothing is ever passed to ``eval``. How the
closures compare the values of a running call is ``comparisons``; the ``{{...}}`` fields of
texts are ``text_templates``.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scripts_engine.comparisons import MISSING, contains, equal, order

Evaluator = Callable[[Mapping[str, Any], Mapping[str, Any]], Any]

BOOL = "yes/no"
NUMBER = "number"
TEXT = "text"
DATE = "date"
CHOICE = "choice"
MULTI = "multiple choice"
LIST = "list"
ANY = "any"


class ExpressionError(Exception):
    """A condition that cannot be used; ``code`` is one of the validator's problem codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class FieldInfo:
    """What the compiler knows about ``answers.x`` or ``contact.y``."""

    type: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Compiled:
    """A type-checked condition, ready to evaluate with ``fn(answers, contact)``."""

    source: str
    fn: Evaluator
    answers_used: frozenset[str] = field(default_factory=frozenset)

    def __call__(self, answers: Mapping[str, Any], contact: Mapping[str, Any]) -> bool:
        try:
            return self.fn(answers, contact) is True
        except Exception:  # a condition over odd stored data is simply false
            return False


Resolver = Callable[[str, str], FieldInfo | None]

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,|-)
  | (?P<bad>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_KEYWORDS = {"and", "or", "not", "in", "true", "false"}
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def tokenize(source: str) -> list[_Tok]:
    """Split a condition into tokens; refuses characters the language does not use."""
    tokens: list[_Tok] = []
    for m in _TOKEN.finditer(source):
        kind = m.lastgroup or "bad"
        text = m.group()
        if kind == "space":
            continue
        if kind == "bad":
            hint = " (use == to compare)" if text == "=" else ""
            raise ExpressionError(
                "bad_expression", f"unexpected character {text!r} at position {m.start() + 1}{hint}"
            )
        if kind == "name" and text in _KEYWORDS:
            kind = "kw"
        tokens.append(_Tok(kind, text, m.start()))
    tokens.append(_Tok("eof", "", len(source)))
    return tokens


@dataclass
class _Node:
    type: str
    fn: Evaluator
    options: tuple[str, ...] = ()
    literal: Any = MISSING
    label: str = ""


_NUMBERS = (int, float)
_OPERATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _const(value: Any) -> Evaluator:
    return lambda a, c: value


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


class _Parser:
    def __init__(self, source: str, resolve: Resolver) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.i = 0
        self.resolve = resolve
        self.answers_used: set[str] = set()

    def peek(self) -> _Tok:
        return self.tokens[self.i]

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def accept(self, text: str) -> bool:
        tok = self.peek()
        if tok.kind in {"op", "kw"} and tok.text == text:
            self.i += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            tok = self.peek()
            found = "the end of the condition" if tok.kind == "eof" else repr(tok.text)
            raise ExpressionError("bad_expression", f"expected {text!r} but found {found}")

    def parse(self) -> _Node:
        node = self.or_()
        tok = self.peek()
        if tok.kind != "eof":
            raise ExpressionError(
                "bad_expression",
                f"unexpected {tok.text!r} at position {tok.pos + 1} (missing 'and' / 'or'?)",
            )
        self.need_bool(node, "a condition")
        return node

    def need_bool(self, node: _Node, where: str) -> None:
        if node.type not in {BOOL, ANY}:
            raise ExpressionError(
                "type_mismatch",
                f"{where} must be true or false, but {node.label or 'this'} is a {node.type}",
            )

    def or_(self) -> _Node:
        left = self.and_()
        while self.accept("or"):
            right = self.and_()
            self.need_bool(left, "each side of 'or'")
            self.need_bool(right, "each side of 'or'")
            lf, rf = left.fn, right.fn
            left = _Node(BOOL, lambda a, c, lf=lf, rf=rf: lf(a, c) is True or rf(a, c) is True)
        return left

    def and_(self) -> _Node:
        left = self.not_()
        while self.accept("and"):
            right = self.not_()
            self.need_bool(left, "each side of 'and'")
            self.need_bool(right, "each side of 'and'")
            lf, rf = left.fn, right.fn
            left = _Node(BOOL, lambda a, c, lf=lf, rf=rf: lf(a, c) is True and rf(a, c) is True)
        return left

    def not_(self) -> _Node:
        if self.accept("not"):
            inner = self.not_()
            self.need_bool(inner, "what follows 'not'")
            f = inner.fn
            return _Node(BOOL, lambda a, c, f=f: f(a, c) is not True)
        return self.comparison()

    def comparison(self) -> _Node:
        left = self.primary()
        tok = self.peek()
        if tok.kind == "op" and tok.text in {"==", "!=", "<", "<=", ">", ">="}:
            self.take()
            return self.compare(tok.text, left, self.primary())
        negate = False
        if tok.kind == "kw" and tok.text == "not" and self.tokens[self.i + 1].text == "in":
            self.take()
            negate = True
        if self.accept("in"):
            node = self.membership(left, self.primary())
            if negate:
                f = node.fn
                node = _Node(BOOL, lambda a, c, f=f: f(a, c) is not True)
            return node
        return left

    def check_option(self, field_node: _Node, literal: _Node) -> None:
        if (
            field_node.options
            and isinstance(literal.literal, str)
            and literal.literal not in field_node.options
        ):
            raise ExpressionError(
                "not_an_option",
                f"{literal.literal!r} is not an option of {field_node.label} "
                f"(options: {', '.join(field_node.options)})",
            )

    def compare(self, op: str, left: _Node, right: _Node) -> _Node:
        lt, rt = left.type, right.type
        if DATE in {lt, rt} and TEXT in {lt, rt}:
            lit = left if lt == TEXT else right
            if isinstance(lit.literal, str) and not _is_date(lit.literal):
                raise ExpressionError(
                    "type_mismatch",
                    f'{lit.literal!r} is not a date; write dates as "YYYY-MM-DD"',
                )
            if lit.literal is MISSING:
                raise self.mismatch(op, left, right)
            lt = rt = DATE
        if CHOICE in {lt, rt} and TEXT in {lt, rt}:
            self.check_option(left if lt == CHOICE else right, right if lt == CHOICE else left)
            lt = rt = TEXT
        if ANY not in {lt, rt} and lt != rt:
            raise self.mismatch(op, left, right)
        kind = lt if lt != ANY else rt
        if op in {"==", "!="}:
            if kind in {MULTI, LIST}:
                raise ExpressionError(
                    "type_mismatch",
                    f"{left.label or right.label} holds several values; use 'in' to test one of them",
                )
            lf, rf = left.fn, right.fn
            if op == "==":
                return _Node(BOOL, lambda a, c, lf=lf, rf=rf: equal(lf(a, c), rf(a, c)))
            return _Node(
                BOOL,
                lambda a, c, lf=lf, rf=rf: (
                    (x := lf(a, c)) is not MISSING
                    and x is not None
                    and (y := rf(a, c)) is not MISSING
                    and y is not None
                    and not equal(x, y)
                ),
            )
        if kind not in {NUMBER, DATE, ANY}:
            raise ExpressionError(
                "type_mismatch",
                f"'{op}' compares numbers or dates, not a {kind} ({left.label or right.label})",
            )
        lf, rf = left.fn, right.fn
        if kind in {NUMBER, DATE} and ANY not in {left.type, right.type}:
            types = _NUMBERS if kind == NUMBER else (str,)
            return _Node(
                BOOL,
                lambda a, c, lf=lf, rf=rf, t=types, cmp=_OPERATORS[op]: (
                    type(x := lf(a, c)) in t and type(y := rf(a, c)) in t and cmp(x, y)
                ),
            )
        return _Node(BOOL, lambda a, c, lf=lf, rf=rf, op=op: order(op, lf(a, c), rf(a, c)))

    def mismatch(self, op: str, left: _Node, right: _Node) -> ExpressionError:
        return ExpressionError(
            "type_mismatch",
            f"cannot compare {left.label or 'a ' + left.type} ({left.type}) "
            f"with {right.label or 'a ' + right.type} ({right.type}) using '{op}'",
        )

    def membership(self, item: _Node, container: _Node) -> _Node:
        if container.type == LIST:
            if item.type not in {CHOICE, ANY}:
                raise ExpressionError(
                    "type_mismatch",
                    f"'in [...]' needs a choice answer on the left, "
                    f"but {item.label or 'it'} is a {item.type}",
                )
            for value in container.literal:
                self.check_option(item, _Node(TEXT, _const(value), literal=value))
            f, values = item.fn, tuple(container.literal)
            return _Node(BOOL, lambda a, c, f=f, v=values: contains(v, f(a, c)))
        if container.type in {MULTI, ANY} and item.type in {TEXT, ANY}:
            self.check_option(container, item)
            f, g = item.fn, container.fn
            return _Node(BOOL, lambda a, c, f=f, g=g: contains(g(a, c), f(a, c)))
        raise ExpressionError(
            "type_mismatch",
            '\'in\' tests an answer against a list like answers.x in ["a", "b"], '
            'or a word in a multiple choice answer like "a" in answers.x; '
            f"{container.label or 'the right side'} is a {container.type}",
        )

    def primary(self) -> _Node:
        tok = self.take()
        if tok.kind == "op" and tok.text == "(":
            node = self.or_()
            self.expect(")")
            return node
        if tok.kind == "op" and tok.text == "-" and self.peek().kind == "number":
            value = -_number(self.take().text)
            return _Node(NUMBER, _const(value), literal=value, label=str(value))
        if tok.kind == "number":
            value = _number(tok.text)
            return _Node(NUMBER, _const(value), literal=value, label=tok.text)
        if tok.kind == "string":
            value = _ESCAPE.sub(r"\1", tok.text[1:-1])
            return _Node(TEXT, _const(value), literal=value, label=tok.text)
        if tok.kind == "kw" and tok.text in {"true", "false"}:
            value = tok.text == "true"
            return _Node(BOOL, _const(value), literal=value, label=tok.text)
        if tok.kind == "op" and tok.text == "[":
            return self.list_literal()
        if tok.kind == "name":
            return self.reference(tok.text)
        found = "the end of the condition" if tok.kind == "eof" else repr(tok.text)
        raise ExpressionError("bad_expression", f"expected a value but found {found}")

    def list_literal(self) -> _Node:
        values: list[str] = []
        while True:
            tok = self.take()
            if tok.kind != "string":
                raise ExpressionError("bad_expression", 'a list holds quoted words, like ["yes", "maybe"]')
            values.append(_ESCAPE.sub(r"\1", tok.text[1:-1]))
            if self.accept("]"):
                break
            self.expect(",")
        return _Node(LIST, _const(tuple(values)), literal=tuple(values), label="the list")

    def reference(self, name: str) -> _Node:
        source, _, key = name.partition(".")
        if source not in {"answers", "contact"} or not key or "." in key:
            raise ExpressionError(
                "unknown_field",
                f"{name!r} is not a field; write answers.<question id> or contact.<field>",
            )
        info = self.resolve(source, key)
        if info is None:
            what = "question or automatic node" if source == "answers" else "declared contact field"
            raise ExpressionError("unknown_field", f"{name!r}: there is no {what} called {key!r}")
        if source == "answers":
            self.answers_used.add(key)
            fn = lambda a, c, k=key: a.get(k, MISSING)  # noqa: E731
        else:
            fn = lambda a, c, k=key: c.get(k, MISSING)  # noqa: E731
        return _Node(info.type, fn, options=info.options, label=name)


def _number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


def compile_condition(source: str, resolve: Resolver) -> Compiled:
    """Parse and type-check a branch condition; raises ExpressionError with a readable message."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("bad_expression", "the condition is empty")
    parser = _Parser(source, resolve)
    try:
        node = parser.parse()
    except RecursionError:
        raise ExpressionError("bad_expression", "the condition is nested too deeply") from None
    return Compiled(source, node.fn, frozenset(parser.answers_used))
