"""The JSON Schema of the script graph (schema.json, draft 2020-12), checked by ``jsonschema``.

``schema_problems`` answers in plain words, each problem naming the node and the setting to fix.
``scripts_engine.graph.validate`` runs it before the graph checks; import from there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from jsonschema import Draft202012Validator, ValidationError

SCHEMA_PATH = Path(__file__).with_name("schema.json")
DEFS = "#/$defs/"

_TYPE_WORDS = {
    "object": "a group of settings ({...})",
    "array": "a list ([...])",
    "string": "text in quotes",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
}


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of format 1, as shipped in schema.json."""
    return json.loads(SCHEMA_PATH.read_text())


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


def schema_problems(graph: Any) -> list[tuple[str | None, str]]:
    """(node id or None, message) for each way ``graph`` breaks schema.json; empty when it conforms."""
    if not isinstance(graph, Mapping):
        return [(None, "a script must be a JSON object ({...})")]
    nodes = graph.get("nodes")
    if isinstance(nodes, Mapping):
        bad_keys = [k for k in nodes if not isinstance(k, str)]
        if bad_keys:
            return [(None, f"node ids must be text, not {bad_keys[0]!r}")]
    quick = _quick_check()
    if quick.graph(graph):
        invalid = {node_id: raw for node_id, raw in graph["nodes"].items() if not quick.node(raw)}
        if not invalid:
            return []
        # Valid nodes add no problem: the full validator words the invalid ones only.
        graph = {**graph, "nodes": invalid}
    problems = [_problem(err) for err in _validator().iter_errors(graph)]
    problems.sort(key=lambda p: (p[0] or "", p[1]))
    return problems


def _inline_refs(sub: Any, root: Mapping[str, Any]) -> Any:
    """A copy of ``sub`` with each ``#/$defs/…`` reference replaced by its schema (they form no cycle)."""
    if isinstance(sub, list):
        return [_inline_refs(item, root) for item in sub]
    if not isinstance(sub, Mapping):
        return sub
    out = {key: _inline_refs(value, root) for key, value in sub.items() if key != "$ref"}
    if "$ref" not in sub:
        return out
    ref = sub["$ref"]
    if not ref.startswith(DEFS):
        raise ValueError(f"schema.json: only {DEFS}… references are supported, not {ref!r}")
    target = _inline_refs(root["$defs"][ref.removeprefix(DEFS)], root)
    return {**out, "allOf": [*out.get("allOf", ()), target]} if out else target


class _QuickCheck(NamedTuple):
    """The full validator's answer, several times sooner: the graph without its nodes, then each node."""

    graph: Callable[[Any], bool]
    node: Callable[[Any], bool]


@cache
def _quick_check() -> _QuickCheck:
    """Ask ``jsonschema`` the full validator's questions in a cheaper order, with validators built once.

    For every node, the full validator tries the seven ``if kind == …`` branches of ``$defs/node``
    and resolves each ``$ref``. This checks the graph without its nodes, then each node against one
    schema for its own kind only: references inlined, and the shared node schema merged into the
    kind's branch where that means the same (``_one_kind``). When it says False, the full validator
    runs to word the problems; tests/scripts_engine/test_properties.py checks that the two agree.
    """
    root = schema()
    nodes = root["properties"]["nodes"]
    node = root["$defs"]["node"]
    if nodes["additionalProperties"] != {"$ref": DEFS + "node"} or "patternProperties" in nodes:
        raise ValueError("schema.json: the nodes must be checked by additionalProperties: $defs/node")
    node_ids_only = {key: value for key, value in nodes.items() if key != "additionalProperties"}
    outer = {key: value for key, value in root.items() if key != "$defs"}
    outer["properties"] = {**root["properties"], "nodes": node_ids_only}
    graph_check = Draft202012Validator(_inline_refs(outer, root)).is_valid
    base = _inline_refs({key: value for key, value in node.items() if key != "allOf"}, root)
    by_kind: dict[str, Callable[[Any], bool]] = {}
    for branch in node["allOf"]:
        kind = branch["if"]["properties"]["kind"]["const"]
        if branch["if"] != {"required": ["kind"], "properties": {"kind": {"const": kind}}}:
            raise ValueError("schema.json: each branch of $defs/node must be chosen by its kind alone")
        then = _inline_refs(branch["then"], root)
        by_kind[kind] = Draft202012Validator(_one_kind(base, then, kind)).is_valid

    def node_check(raw: Any) -> bool:
        kind = raw.get("kind") if isinstance(raw, dict) else None
        check = by_kind.get(kind) if isinstance(kind, str) else None
        return check is not None and check(raw)

    return _QuickCheck(graph_check, node_check)


_MERGEABLE = frozenset({"type", "required", "properties"})
_SEES_PROPERTIES = frozenset({"additionalProperties", "patternProperties", "unevaluatedProperties"})


def _one_kind(base: Mapping[str, Any], then: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    """The schema of a node of ``kind``: ``{"allOf": [base, then]}``, as one object where that is the same.

    Each level of nesting costs ``jsonschema`` a descent per node, so ``base`` (the shared node
    schema) is merged into ``then`` (the kind's branch) when nothing clashes. ``kind`` itself is
    not checked again when ``base`` accepts it: a node is checked here only once chosen by it.
    """
    if not isinstance(then, Mapping) or not _MERGEABLE.issuperset(base):
        return {"allOf": [base, then]}
    base_properties = dict(base.get("properties", {}))
    if "kind" in base_properties and Draft202012Validator(base_properties["kind"]).is_valid(kind):
        base_properties["kind"] = True
    merged = dict(then)
    if "type" in base and merged.setdefault("type", base["type"]) != base["type"]:
        return {"allOf": [base, then]}
    if "required" in base:
        merged["required"] = list(dict.fromkeys([*base["required"], *then.get("required", ())]))
    properties = dict(then.get("properties", {}))
    for name, rule in base_properties.items():
        mine = properties.get(name, True)
        if name not in properties and _SEES_PROPERTIES & then.keys():
            return {"allOf": [base, then]}  # a new name would change what those keywords allow
        if rule is not True and mine is not True and rule != mine:
            return {"allOf": [base, then]}
        properties[name] = mine if rule is True else rule
    if properties:
        merged["properties"] = properties
    return merged


def _where(path: list[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problem(err: ValidationError) -> tuple[str | None, str]:
    path = list(err.absolute_path)
    node = None
    if len(path) >= 2 and path[0] == "nodes" and isinstance(path[1], str):
        node, path = path[1], path[2:]
    if err.validator == "pattern" and "propertyNames" in err.relative_schema_path:
        name_rule = err.schema.get("x-message", "invalid name")
        return str(err.instance), f"{err.instance!r} cannot be a node id: {name_rule}"
    where = _where(path)
    subject = f"'{where}'" if where else ("this node" if node else "the script")
    custom = err.schema.get("x-message") if isinstance(err.schema, Mapping) else None
    v, value = err.validator, err.validator_value
    if custom:
        message = f"{subject}: {custom}" if where and v not in {"oneOf", "anyOf"} else custom
    elif v == "required":
        missing = [k for k in value if isinstance(err.instance, Mapping) and k not in err.instance]
        message = f"{subject} is missing '{missing[0] if missing else value[0]}'"
    elif v == "additionalProperties":
        known = err.schema.get("properties", {})
        extra = sorted(str(k) for k in err.instance if k not in known)
        message = f"{subject} has unknown setting(s): {', '.join(extra)}"
    elif v == "type":
        kinds = value if isinstance(value, list) else [value]
        message = f"{subject} must be " + " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)
    elif v == "enum":
        message = f"{subject} must be one of: {', '.join(map(str, value))}"
    elif v == "const":
        message = f"{subject} must be {value!r}"
    elif v in {"minItems", "minProperties"}:
        message = f"{subject} needs at least {value} entr{'y' if value == 1 else 'ies'}"
    elif v == "uniqueItems":
        message = f"{subject} lists the same entry twice"
    elif v == "minLength":
        message = f"{subject} must not be empty"
    elif v == "maxLength":
        message = f"{subject} is too long (at most {value} characters)"
    elif v == "minimum":
        message = f"{subject} must be at least {value}"
    else:
        message = f"{subject}: {err.message}"
    return node, message
