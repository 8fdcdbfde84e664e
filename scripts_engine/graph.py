"""The script graph: compilation and the validator that refuses broken scripts.

``validate`` never raises: whatever JSON a client's staff saves, they get a list of problems, each
naming the node and saying in plain words what to fix. It checks the JSON Schema first
(``graph_schema``), then the graph itself: edges, paths (``graph_paths``), fields, answers and
limits. The compiled form is shared with the interpreter so that conditions and templates are
parsed once per version. Callers import everything from here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scripts_engine.expressions import (
    ANY,
    BOOL,
    CHOICE,
    DATE,
    MULTI,
    NUMBER,
    TEXT,
    Compiled,
    ExpressionError,
    FieldInfo,
    compile_condition,
)
from scripts_engine.graph_paths import ancestor_masks, reachable, reaching, strongly_connected
from scripts_engine.graph_schema import SCHEMA_PATH, schema, schema_problems
from scripts_engine.text_templates import Template, parse_template

__all__ = [
    "ANSWERING_KINDS",
    "OPERATOR_ONLY_KINDS",
    "SCHEMA_PATH",
    "AutomaticOption",
    "CompiledGraph",
    "Node",
    "Problem",
    "compile_graph",
    "is_valid",
    "schema",
    "validate",
]

ANSWERING_KINDS = frozenset({"question", "automatic"})
OPERATOR_ONLY_KINDS = frozenset({"say", "question"})
_ANSWER_TYPES = {
    "text": TEXT,
    "phone": TEXT,
    "email": TEXT,
    "number": NUMBER,
    "yes_no": BOOL,
    "date": DATE,
    "choice": CHOICE,
    "multi_choice": MULTI,
}


@dataclass(frozen=True)
class Problem:
    """One reason a script cannot be approved; ``node`` is the node id when there is one."""

    node: str | None
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.node}: {self.message}" if self.node else self.message


@dataclass(frozen=True)
class AutomaticOption:
    """One choice of an automatic (IVR) node: keypad digits and/or spoken words."""

    value: str
    next: str
    digits: str | None = None
    speech: tuple[str, ...] = ()


@dataclass
class Node:
    """A node with its templates and conditions compiled."""

    id: str
    kind: str
    raw: Mapping[str, Any]
    next: str | None = None
    text: Template | None = None
    cases: tuple[tuple[Compiled, str], ...] = ()
    otherwise: str | None = None
    options: tuple[AutomaticOption, ...] = ()
    timeout_next: str | None = None
    disposition: str | None = None
    specialist: str | None = None
    answer_type: str | None = None
    successors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def terminal(self) -> bool:
        return self.kind == "end" or (self.kind == "transfer" and self.next is None)


@dataclass
class CompiledGraph:
    """A graph whose nodes are compiled; only meaningful when ``problems`` is empty."""

    start: str
    nodes: dict[str, Node]
    contact_fields: tuple[str, ...]
    dispositions: tuple[str, ...]
    specialists: tuple[str, ...]
    problems: list[Problem]


def validate(graph: Any) -> list[Problem]:
    """Every problem that stops this graph from being approved; an empty list means valid."""
    return compile_graph(graph).problems


def is_valid(graph: Any) -> bool:
    """True when ``validate`` finds nothing to fix."""
    return not validate(graph)


def compile_graph(graph: Any) -> CompiledGraph:
    """Check the graph and compile its nodes; never raises."""
    empty = CompiledGraph("", {}, (), (), (), [])
    try:
        problems = schema_problems(graph)
        if problems:
            empty.problems = [Problem(node, "schema", message) for node, message in problems]
            return empty
        return _Checker(graph).run()
    except RecursionError:
        empty.problems = [Problem(None, "schema", "the script is nested too deeply to be read")]
    except Exception as exc:  # the validator must answer, not crash the editor
        empty.problems = [Problem(None, "internal_error", f"the script could not be checked: {exc!r}")]
    return empty


def _answer_info(raw: Mapping[str, Any]) -> FieldInfo:
    if raw["kind"] == "automatic":
        return FieldInfo(CHOICE, tuple(_option_value(o) for o in raw["options"]))
    qtype = raw["type"]
    return FieldInfo(_ANSWER_TYPES[qtype], tuple(raw.get("options", ())))


def _option_value(option: Mapping[str, Any]) -> str:
    return option.get("value") or option.get("digits") or option["speech"][0]


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_iso_date(x: Any) -> bool:
    if not isinstance(x, str) or len(x) != 10:
        return False
    try:
        dt.date.fromisoformat(x)
    except ValueError:
        return False
    return True


class _Checker:
    def __init__(self, graph: Mapping[str, Any]) -> None:
        self.graph = graph
        self.raw_nodes: Mapping[str, Mapping[str, Any]] = graph["nodes"]
        self.contact_fields = tuple(graph.get("fields", {}).get("contact", ()))
        self.defaults: dict[str, str] = dict(graph.get("defaults", {}))
        self.dispositions = tuple(graph.get("dispositions", ()))
        self.specialists = tuple(graph.get("specialists", ()))
        self.problems: list[Problem] = []
        self.nodes: dict[str, Node] = {}
        self._contact_set = frozenset(self.contact_fields)
        self._ancestors: dict[str, int] | None = None
        self._bit = {nid: 1 << i for i, nid in enumerate(self.raw_nodes)}

    def add(self, node: str | None, code: str, message: str) -> None:
        self.problems.append(Problem(node, code, message))

    def run(self) -> CompiledGraph:
        start = self.graph["start"]
        for nid, raw in self.raw_nodes.items():
            self.nodes[nid] = self.shape(nid, raw)
        if start not in self.nodes:
            self.add(None, "missing_start", f"the start node {start!r} does not exist")
        for node in self.nodes.values():
            for target in node.successors:
                if target not in self.nodes:
                    self.add(node.id, "dangling_edge", f"leads to {target!r}, which does not exist")
        if start in self.nodes:
            self.check_paths(start)
        uses: list[tuple[Node, str, str]] = []
        for node in self.nodes.values():
            self.check_node(node, uses)
        if uses:
            self.check_answer_order(uses)
        return CompiledGraph(
            start,
            self.nodes,
            self.contact_fields,
            self.dispositions,
            self.specialists,
            self.problems,
        )

    def shape(self, nid: str, raw: Mapping[str, Any]) -> Node:
        kind = raw["kind"]
        node = Node(nid, kind, raw, next=raw.get("next"))
        text = raw.get("prompt") if kind == "automatic" else raw.get("text")
        if text is not None:
            node.text, bad = parse_template(text, defaults=self.defaults)
            for field_text in bad:
                self.add(
                    nid,
                    "unknown_field",
                    f"{field_text} is not a field; write {{{{contact.<field>}}}} "
                    "or {{answers.<question id>}}",
                )
        successors: list[str] = [node.next] if node.next else []
        if kind == "question":
            node.answer_type = raw["type"]
        elif kind == "branch":
            node.otherwise = raw["otherwise"]
            successors = [case["next"] for case in raw["cases"]] + [node.otherwise]
        elif kind == "automatic":
            node.answer_type = "automatic"
            node.options = tuple(
                AutomaticOption(_option_value(o), o["next"], o.get("digits"), tuple(o.get("speech", ())))
                for o in raw["options"]
            )
            node.timeout_next = raw["timeout_next"]
            successors = [o.next for o in node.options] + [node.timeout_next]
        elif kind in {"end", "transfer"}:
            node.disposition = raw.get("disposition")
            node.specialist = raw.get("specialist")
        node.successors = tuple(dict.fromkeys(successors))
        return node

    def check_paths(self, start: str) -> None:
        nodes = self.nodes
        succ = {nid: [t for t in n.successors if t in nodes] for nid, n in nodes.items()}
        reached = reachable([start], succ)
        ending = reaching({nid for nid, n in nodes.items() if n.terminal}, succ)
        for nid in nodes:
            if nid not in reached:
                self.add(nid, "unreachable", f"no path from the start ({start!r}) leads here")
            elif nid not in ending:
                self.add(nid, "no_end", "from here the call can never reach an end node")
        silent = {nid: [t for t in ts if nodes[t].kind not in ANSWERING_KINDS] for nid, ts in succ.items()}
        for component in strongly_connected(
            [nid for nid in nodes if nodes[nid].kind not in ANSWERING_KINDS], silent
        ):
            if len(component) > 1 or component[0] in silent[component[0]]:
                self.add(
                    component[0],
                    "endless_loop",
                    "these nodes form a loop with no question in it, so the call would go round "
                    f"forever: {', '.join(component)}",
                )
        self.check_handover(succ)

    def check_handover(self, succ: dict[str, list[str]]) -> None:
        origin: dict[str, str] = {}
        stack: list[str] = []
        for nid, node in self.nodes.items():
            if node.kind == "automatic":
                origin[nid] = nid
                stack.append(nid)
        while stack:
            current = stack.pop()
            for t in succ[current]:
                if t in origin or self.nodes[t].kind == "handover":
                    continue
                origin[t] = origin[current]
                if self.nodes[t].kind in OPERATOR_ONLY_KINDS:
                    self.add(
                        t,
                        "needs_handover",
                        f"this {self.nodes[t].kind} node needs an operator, but the automatic "
                        f"node {origin[current]!r} leads here without a handover node in between",
                    )
                else:
                    stack.append(t)

    def check_node(self, node: Node, uses: list[tuple[Node, str, str]]) -> None:
        nid, raw = node.id, node.raw
        if node.text is not None:
            for source, key in node.text.fields:
                if source == "contact" and key not in self._contact_set:
                    self.add(
                        nid,
                        "unknown_field",
                        f"{{{{contact.{key}}}}} is not a declared contact field "
                        f"(declared: {', '.join(self.contact_fields) or 'none'})",
                    )
                elif source == "answers":
                    if self.answer_field(key) is None:
                        self.add(
                            nid,
                            "unknown_field",
                            f"{{{{answers.{key}}}}}: there is no question or automatic node called {key!r}",
                        )
                    else:
                        uses.append((node, key, f"{{{{answers.{key}}}}}"))
        if node.disposition is not None and node.disposition not in self.dispositions:
            self.add(
                nid,
                "unknown_disposition",
                f"disposition {node.disposition!r} is not in the script's dispositions "
                f"({', '.join(self.dispositions) or 'none'})",
            )
        if node.specialist is not None and node.specialist not in self.specialists:
            self.add(
                nid,
                "unknown_specialist",
                f"specialist {node.specialist!r} is not in the script's specialists "
                f"({', '.join(self.specialists) or 'none'})",
            )
        if node.kind == "question":
            self.check_question(nid, raw)
        elif node.kind == "automatic":
            self.check_options(node)
        elif node.kind == "branch":
            cases = []
            for i, case in enumerate(raw["cases"], 1):
                try:
                    compiled = compile_condition(case["when"], self.resolve)
                except ExpressionError as exc:
                    self.add(nid, exc.code, f"condition {i} ({case['when']!r}): {exc.message}")
                    continue
                cases.append((compiled, case["next"]))
                uses.extend((node, key, f"condition {i}") for key in compiled.answers_used)
            node.cases = tuple(cases)

    def answer_field(self, key: str) -> FieldInfo | None:
        raw = self.raw_nodes.get(key)
        if raw is None or raw["kind"] not in ANSWERING_KINDS:
            return None
        return _answer_info(raw)

    def resolve(self, source: str, key: str) -> FieldInfo | None:
        if source == "contact":
            return FieldInfo(ANY) if key in self._contact_set else None
        return self.answer_field(key)

    def check_question(self, nid: str, raw: Mapping[str, Any]) -> None:
        qtype = raw["type"]
        allowed = {
            "options": {"choice", "multi_choice"},
            "min": {"number", "date"},
            "max": {"number", "date"},
            "integer": {"number"},
            "min_length": {"text"},
            "max_length": {"text"},
            "pattern": {"text"},
        }
        for key, types in allowed.items():
            if key in raw and qtype not in types:
                self.add(nid, "bad_limits", f"'{key}' does not apply to a {qtype} question")
        low, high = raw.get("min"), raw.get("max")
        check = _is_number if qtype == "number" else _is_iso_date
        what = "a number" if qtype == "number" else 'a date written "YYYY-MM-DD"'
        for key, value in (("min", low), ("max", high)):
            if value is not None and qtype in {"number", "date"} and not check(value):
                self.add(nid, "bad_limits", f"'{key}' must be {what}")
        if check(low) and check(high) and low > high:
            self.add(nid, "bad_limits", f"'min' ({low}) is greater than 'max' ({high})")
        min_len, max_len = raw.get("min_length"), raw.get("max_length")
        if min_len is not None and max_len is not None and min_len > max_len:
            self.add(nid, "bad_limits", "'min_length' is greater than 'max_length'")
        if "pattern" in raw:
            try:
                re.compile(raw["pattern"])
            except (re.error, RecursionError, OverflowError) as exc:
                self.add(nid, "bad_limits", f"'pattern' is not a valid pattern: {exc}")

    def check_options(self, node: Node) -> None:
        seen: dict[tuple[str, str], int] = {}
        for i, option in enumerate(node.options, 1):
            keys = [("digits", option.digits)] if option.digits else []
            keys += [("value", option.value)]
            keys += [("words", w.strip().casefold()) for w in option.speech]
            for key in dict.fromkeys(keys):
                if key in seen:
                    self.add(
                        node.id,
                        "duplicate_option",
                        f"options {seen[key]} and {i} both use the {key[0]} {key[1]!r}",
                    )
                else:
                    seen[key] = i

    def check_answer_order(self, uses: list[tuple[Node, str, str]]) -> None:
        ancestors = self.ancestors()
        for node, key, where in uses:
            if not ancestors.get(node.id, 0) & self._bit[key]:
                self.add(
                    node.id,
                    "answer_too_early",
                    f"{where} uses the answer to {key!r}, but {key!r} is never asked before this point",
                )

    def ancestors(self) -> dict[str, int]:
        """Bit masks of the nodes that can come before each node (itself only inside a loop)."""
        nodes = self.nodes
        succ = {nid: [t for t in n.successors if t in nodes] for nid, n in nodes.items()}
        return ancestor_masks(list(nodes), succ, self._bit)
