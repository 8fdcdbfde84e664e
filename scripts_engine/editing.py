"""Editing a graph node by node from plain form fields (pure Python, no Django).

The editor's forms are flat text fields; these functions turn a node into them and back. List
settings are written one per line: choice options, branch cases as ``condition -> next``, and
automatic options as ``digits | spoken words, comma separated | value | next``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from scripts_engine.graph import Problem

KINDS: tuple[str, ...] = ("say", "question", "branch", "transfer", "automatic", "handover", "end")
KIND_LABELS = {
    "say": "Say — the operator reads a text",
    "question": "Question — the operator asks and types the answer",
    "branch": "Branch — choose the way on by conditions",
    "transfer": "Transfer — put the caller through to a specialist",
    "automatic": "Automatic — phone menu (IVR)",
    "handover": "Handover — from the phone menu to an operator",
    "end": "End — the call is finished",
}
QUESTION_TYPES: tuple[str, ...] = (
    "text",
    "number",
    "choice",
    "multi_choice",
    "yes_no",
    "date",
    "phone",
    "email",
)
FIELDS_BY_KIND: dict[str, tuple[str, ...]] = {
    "say": ("text", "next", "sensitive", "note"),
    "question": (
        "text",
        "type",
        "required",
        "options",
        "min",
        "max",
        "integer",
        "min_length",
        "max_length",
        "pattern",
        "next",
        "sensitive",
        "note",
    ),
    "branch": ("cases", "otherwise", "note"),
    "transfer": ("text", "specialist", "next", "disposition", "note"),
    "automatic": ("prompt", "auto_options", "timeout_next", "note"),
    "handover": ("text", "next", "note"),
    "end": ("text", "disposition", "note"),
}
NODE_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_STRINGS = (
    "text",
    "prompt",
    "note",
    "pattern",
    "next",
    "otherwise",
    "timeout_next",
    "specialist",
    "disposition",
)


def nodes_of(graph: Any) -> dict[str, Any]:
    """The graph's nodes, or an empty dict when the graph has none (an imported oddity)."""
    nodes = graph.get("nodes") if isinstance(graph, Mapping) else None
    return nodes if isinstance(nodes, dict) else {}


def contact_fields(graph: Any) -> list[str]:
    """The contact fields a graph declares (an empty list when the setting is missing or odd)."""
    fields = graph.get("fields") if isinstance(graph, Mapping) else None
    declared = fields.get("contact") if isinstance(fields, Mapping) else None
    return [f for f in declared if isinstance(f, str)] if isinstance(declared, list) else []


def node_summary(node: Any) -> dict[str, Any]:
    """What the node list shows of a node, as plain texts and lists whatever the JSON holds."""
    node = node if isinstance(node, Mapping) else {}

    def text(key: str) -> str:
        value = node.get(key)
        return value if isinstance(value, str) else ""

    def items(key: str) -> list[Mapping[str, Any]]:
        value = node.get(key)
        return [x for x in value if isinstance(x, Mapping)] if isinstance(value, list) else []

    options = node.get("options") if isinstance(node.get("options"), list) else []
    kind = text("kind") or "unknown"
    return {
        "kind": kind,
        "text": text("text") or text("prompt"),
        "type": text("type"),
        "optional": node.get("required") is False,
        "choices": [str(o) for o in options if isinstance(o, (str, int, float))]
        if kind == "question"
        else [],
        "next": text("next"),
        "cases": [(str(c.get("when", "")), str(c.get("next", ""))) for c in items("cases")],
        "otherwise": text("otherwise"),
        "menu": [
            (str(o.get("digits") or ""), str(o.get("value") or o.get("digits") or ""), str(o.get("next", "")))
            for o in (items("options") if kind == "automatic" else [])
        ],
        "timeout_next": text("timeout_next"),
        "specialist": text("specialist"),
        "disposition": text("disposition"),
    }


def node_to_fields(node: Mapping[str, Any]) -> dict[str, str]:
    """The form fields of a node, as text."""
    fields: dict[str, str] = {}
    for name in _STRINGS:
        value = node.get(name)
        if isinstance(value, str):
            fields[name] = value
    if node.get("sensitive") is True:
        fields["sensitive"] = "on"
    if node.get("kind") == "question":
        fields["type"] = str(node.get("type", "text"))
        fields["required"] = "" if node.get("required") is False else "on"
        fields["integer"] = "on" if node.get("integer") else ""
        for name in ("min", "max", "min_length", "max_length"):
            if node.get(name) is not None:
                fields[name] = str(node[name])
        options = node.get("options")
        if isinstance(options, list):
            fields["options"] = "\n".join(str(o) for o in options)
    cases = node.get("cases")
    if isinstance(cases, list):
        fields["cases"] = "\n".join(
            f"{c.get('when', '')} -> {c.get('next', '')}" for c in cases if isinstance(c, Mapping)
        )
    options = node.get("options") if node.get("kind") == "automatic" else None
    if isinstance(options, list):
        lines = []
        for o in options:
            if isinstance(o, Mapping):
                speech = o.get("speech") if isinstance(o.get("speech"), list) else []
                words = ", ".join(str(w) for w in speech)
                lines.append(f"{o.get('digits', '')} | {words} | {o.get('value', '')} | {o.get('next', '')}")
        fields["auto_options"] = "\n".join(lines)
    return fields


def _number(text: str, name: str, errors: dict[str, str]) -> int | float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        errors[name] = "Enter a number."
        return None
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def node_from_fields(kind: str, data: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """A node of ``kind`` from form fields, and the fields that could not be read (name -> message).

    The node may still be wrong for the script (a dangling ``next``…): the validator says so.
    """
    errors: dict[str, str] = {}
    node: dict[str, Any] = {"kind": kind}
    wanted = FIELDS_BY_KIND.get(kind, ())
    for name in _STRINGS:
        if name in wanted:
            value = str(data.get(name, "")).strip()
            if value:
                node[name] = value
    if "sensitive" in wanted and data.get("sensitive"):
        node["sensitive"] = True
    if kind == "question":
        node["type"] = str(data.get("type") or "text")
        if not data.get("required"):
            node["required"] = False
        if data.get("integer") and node["type"] == "number":
            node["integer"] = True
        for name in ("min", "max"):
            text = str(data.get(name, "")).strip()
            if text:
                node[name] = text if node["type"] == "date" else _number(text, name, errors)
        for name in ("min_length", "max_length"):
            value = _number(str(data.get(name, "")), name, errors)
            if value is not None:
                node[name] = value
        options = [line.strip() for line in str(data.get("options", "")).splitlines() if line.strip()]
        if options or node["type"] in {"choice", "multi_choice"}:
            node["options"] = options
        node = {k: v for k, v in node.items() if v is not None}
    if kind == "branch":
        cases = []
        for number, line in enumerate(str(data.get("cases", "")).splitlines(), 1):
            if not line.strip():
                continue
            when, arrow, target = line.rpartition("->")
            if not arrow or not when.strip() or not target.strip():
                errors["cases"] = f"Line {number}: write a case as: condition -> next node id"
                continue
            cases.append({"when": when.strip(), "next": target.strip()})
        node["cases"] = cases
    if kind == "automatic":
        options = []
        for number, line in enumerate(str(data.get("auto_options", "")).splitlines(), 1):
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split("|")]
            if len(parts) != 4 or not parts[3]:
                errors["auto_options"] = f"Line {number}: write an option as: digits | words | value | next"
                continue
            digits, words, value, target = parts
            option: dict[str, Any] = {"next": target}
            if digits:
                option["digits"] = digits
            speech = [w.strip() for w in words.split(",") if w.strip()]
            if speech:
                option["speech"] = speech
            if value:
                option["value"] = value
            options.append(option)
        node["options"] = options
    return node, errors


def graph_with_node(graph: Any, node_id: str, node: dict[str, Any]) -> dict[str, Any]:
    """A copy of the graph with ``node_id`` set to ``node`` (added or replaced)."""
    result = copy.deepcopy(graph) if isinstance(graph, dict) else {}
    nodes = nodes_of(result)
    nodes[node_id] = node
    result["nodes"] = nodes
    if not result.get("start"):
        result["start"] = node_id
    return result


def graph_without_node(graph: Any, node_id: str) -> dict[str, Any]:
    """A copy of the graph without ``node_id`` (arrows to it become dangling and are reported)."""
    result = copy.deepcopy(graph) if isinstance(graph, dict) else {}
    nodes = nodes_of(result)
    nodes.pop(node_id, None)
    result["nodes"] = nodes
    return result


def split_words(text: str) -> list[str]:
    """Identifiers typed as a comma- or space-separated list."""
    return [w for w in re.split(r"[\s,]+", text.strip()) if w]


def problems_by_node(problems: list[Problem]) -> dict[str | None, list[Problem]]:
    """Problems grouped under the node they name (``None`` for the script as a whole)."""
    grouped: dict[str | None, list[Problem]] = {}
    for problem in problems:
        grouped.setdefault(problem.node, []).append(problem)
    return grouped


def blank_graph(title: str, disposition: str | None = None) -> dict[str, Any]:
    """A new script: a greeting and an end with ``disposition`` (to choose when there is none)."""
    end: dict[str, Any] = {"kind": "end", "text": "Thank you for calling. Goodbye!"}
    if disposition:
        end["disposition"] = disposition
    return {
        "format": 1,
        "title": title,
        "start": "greeting",
        "fields": {"contact": ["first_name"]},
        "dispositions": [disposition] if disposition else [],
        "specialists": [],
        "nodes": {
            "greeting": {"kind": "say", "text": "Hello {{contact.first_name}}!", "next": "goodbye"},
            "goodbye": end,
        },
    }


_TOP_ORDER = ("format", "title", "description", "start", "fields", "dispositions", "specialists", "nodes")
_NODE_ORDER = (
    "kind", "text", "prompt", "type", "required", "options", "min", "max", "integer",
    "min_length", "max_length", "pattern", "cases", "otherwise", "specialist", "disposition",
    "next", "timeout_next", "sensitive", "note",
)  # fmt: skip


def canonical_graph(graph: Any, order: list[str] | None = None) -> Any:
    """The graph with settings and node keys in reading order (the database keeps no key order).

    ``order`` lists node ids in the order to write them (e.g. the diagram's layers).
    """
    if not isinstance(graph, dict):
        return graph

    def ranked(mapping: dict[str, Any], preferred: tuple[str, ...]) -> dict[str, Any]:
        rank = {k: i for i, k in enumerate(preferred)}
        return {k: mapping[k] for k in sorted(mapping, key=lambda k: (rank.get(k, len(rank)), k))}

    result = ranked(graph, _TOP_ORDER)
    nodes = graph.get("nodes")
    if isinstance(nodes, dict):
        ids = [n for n in (order or []) if n in nodes] + sorted(n for n in nodes if n not in (order or []))
        result["nodes"] = {
            n: ranked(nodes[n], _NODE_ORDER) if isinstance(nodes[n], dict) else nodes[n] for n in ids
        }
    return result
