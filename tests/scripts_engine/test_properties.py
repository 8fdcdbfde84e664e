"""Properties: nothing raises on any JSON, and every accepted script ends under any valid answers."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scripts_engine.graph import is_valid, schema, validate
from scripts_engine.interpreter import Interpreter, InvalidScript, Run
from scripts_engine.samples import SAMPLES, load_sample
from scripts_engine.steps import QuestionSpec

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCHEMA = jsonschema.Draft202012Validator(schema())
KINDS = ["say", "question", "branch", "transfer", "automatic", "handover", "end"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from([*KINDS, "next", "answers.topic", "{{contact.first_name}}"]),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


def _locations(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _locations(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _locations(item, (*path, index))
    return found


@st.composite
def mutated_samples(draw: st.DrawFn) -> Any:
    graph = load_sample(draw(st.sampled_from(SAMPLES)))
    node_ids = list(graph["nodes"])
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_locations(graph)))
        if not path:
            continue
        parent: Any = graph
        for key in path[:-1]:
            parent = parent[key]
        replacement = draw(st.sampled_from(["drop", "json", "node", "kind"]))
        if replacement == "drop":
            parent.pop(path[-1])
        elif replacement == "json":
            parent[path[-1]] = draw(json_values)
        elif replacement == "node":
            parent[path[-1]] = draw(st.sampled_from(node_ids))
        else:
            parent[path[-1]] = draw(st.sampled_from(KINDS))
    return graph


def _exercise(graph: Any, answers: Any, raw: Any) -> None:
    problems = validate(graph)
    assert all(p.code != "internal_error" for p in problems), problems
    has_schema_problem = any(p.code == "schema" for p in problems)
    assert has_schema_problem == (not SCHEMA.is_valid(graph)), problems
    if problems:
        with pytest.raises(InvalidScript):
            Interpreter(graph)
        return
    interpreter = Interpreter(graph)
    contact = answers if isinstance(answers, dict) else {}
    answer_map = answers if isinstance(answers, dict) else {}
    step = interpreter.step(contact=contact, answers=answer_map, seen=list(answer_map))
    interpreter.back(step, contact=contact, answers=answer_map)
    for node_id in interpreter.nodes:
        interpreter.answer(node_id, raw)
        interpreter.match(node_id, digits=raw if isinstance(raw, str) else None, speech=str(raw))
        interpreter.step(contact=contact, answers={node_id: raw}, reopen=node_id)


@SETTINGS
@given(graph=json_values, answers=json_values, raw=json_values)
def test_nothing_raises_on_arbitrary_json(graph: Any, answers: Any, raw: Any) -> None:
    _exercise(graph, answers, raw)


@SETTINGS
@given(graph=mutated_samples(), answers=json_values, raw=json_values)
def test_nothing_raises_on_mutated_samples(graph: Any, answers: Any, raw: Any) -> None:
    _exercise(graph, answers, raw)


QUESTION_TYPES = ["text", "number", "choice", "multi_choice", "yes_no", "date", "phone", "email"]


@st.composite
def question_spec(draw: st.DrawFn) -> dict[str, Any]:
    qtype = draw(st.sampled_from(QUESTION_TYPES))
    spec: dict[str, Any] = {"type": qtype, "required": draw(st.booleans())}
    if qtype in {"choice", "multi_choice"}:
        spec["options"] = draw(
            st.lists(st.sampled_from(["red", "green", "blue", "black"]), min_size=1, unique=True)
        )
    elif qtype == "number":
        low = draw(st.integers(-50, 50))
        spec.update(min=low, max=low + draw(st.integers(0, 100)), integer=draw(st.booleans()))
    elif qtype == "text":
        if draw(st.booleans()):
            spec["pattern"] = "[A-Z]{2}[0-9]{3}"
        else:
            spec.update(min_length=draw(st.integers(0, 3)), max_length=draw(st.integers(4, 20)))
    elif qtype == "date":
        spec.update(min="2024-01-01", max="2026-12-31")
    return spec


def _conditions(draw: st.DrawFn, known: dict[str, dict[str, Any]]) -> str:
    candidates = ['contact.city == "Berlin"', "contact.vip"]
    for name, spec in known.items():
        qtype = spec["type"]
        ref = f"answers.{name}"
        if qtype == "number":
            candidates += [f"{ref} > {spec['min']}", f"{ref} == {spec['max']}"]
        elif qtype == "choice":
            options = json.dumps(spec["options"][:2])
            candidates += [f'{ref} == "{spec["options"][0]}"', f"{ref} in {options}"]
        elif qtype == "multi_choice":
            candidates.append(f'"{spec["options"][-1]}" in {ref}')
        elif qtype == "yes_no":
            candidates += [ref, f"not {ref}", f"{ref} == false"]
        elif qtype == "date":
            candidates.append(f'{ref} < "2025-06-01"')
        else:
            candidates.append(f'{ref} != "AB123"')
    parts = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=3))
    joiner = draw(st.sampled_from([" and ", " or "]))
    text = joiner.join(f"({p})" for p in parts)
    return f"not ({text})" if draw(st.booleans()) else text


@st.composite
def valid_graphs(draw: st.DrawFn) -> dict[str, Any]:
    """DAG-ish scripts: an optional automatic part, then a spine n0 -> n1 -> ... with side jumps."""
    size = draw(st.integers(1, 14))
    ends = ["end_a", "end_b"]
    nodes: dict[str, dict[str, Any]] = {
        "end_a": {"kind": "end", "disposition": "done"},
        "end_b": {"kind": "end", "text": "Bye {{contact.first_name}}", "disposition": "other"},
    }
    known: dict[str, dict[str, Any]] = {}
    preds_known: dict[str, dict[str, dict[str, Any]]] = {f"n{i}": {} for i in range(size)}
    autos = draw(st.integers(0, 3))
    start = "a0" if autos else "n0"
    for i in range(autos):
        following = f"a{i + 1}" if i + 1 < autos else "hand"
        targets = [f"a{j}" for j in range(i + 1, autos)] + ends + ["hand"]
        digits = draw(st.lists(st.sampled_from(list("0123456789")), min_size=1, max_size=3, unique=True))
        nodes[f"a{i}"] = {
            "kind": "automatic",
            "prompt": "Press a key",
            "options": [
                {"digits": d, "speech": [f"word{d}"], "next": draw(st.sampled_from(targets))} for d in digits
            ],
            "timeout_next": following,
        }
        known[f"a{i}"] = {"type": "choice", "options": digits}
    if autos:
        nodes["hand"] = {"kind": "handover", "text": "Hold on", "next": "n0"}
        preds_known["n0"] = dict(known)
    for i in range(size):
        name = f"n{i}"
        following = f"n{i + 1}" if i + 1 < size else draw(st.sampled_from(ends))
        later = [f"n{j}" for j in range(i + 1, size)] + ends
        before = preds_known[name]
        kind = draw(st.sampled_from(["say", "question", "question", "branch", "transfer"]))
        if kind == "say":
            fields = "".join(f" {{{{answers.{k}}}}}" for k in list(before)[:2])
            nodes[name] = {"kind": "say", "text": f"Hi {{{{contact.first_name}}}}{fields}", "next": following}
            targets = [following]
        elif kind == "question":
            spec = draw(question_spec())
            nodes[name] = {"kind": "question", "text": "?", **spec, "next": following}
            targets = [following]
        elif kind == "transfer":
            nodes[name] = {"kind": "transfer", "specialist": "billing", "next": following}
            targets = [following]
        else:
            cases = [
                {"when": _conditions(draw, before), "next": draw(st.sampled_from(later))}
                for _ in range(draw(st.integers(1, 3)))
            ]
            nodes[name] = {"kind": "branch", "cases": cases, "otherwise": following}
            targets = [c["next"] for c in cases] + [following]
        reaching = dict(before)
        if kind == "question":
            reaching[name] = spec
        for target in targets:
            if target in preds_known:
                preds_known[target].update(reaching)
    used = set(re.findall(r'"(?:next|otherwise|timeout_next)": "(\w+)"', json.dumps(nodes)))
    for end in ends:
        if end not in used:
            del nodes[end]
    return {
        "format": 1,
        "start": start,
        "fields": {"contact": ["first_name", "city", "vip"]},
        "dispositions": ["done", "other"],
        "specialists": ["billing"],
        "nodes": nodes,
    }


def valid_raw(spec: QuestionSpec) -> st.SearchStrategy[Any]:
    if spec.type == "number":
        return st.integers(spec.min, spec.max)
    if spec.type == "choice":
        return st.sampled_from(spec.options)
    if spec.type == "multi_choice":
        return st.lists(st.sampled_from(spec.options), min_size=1, unique=True)
    if spec.type == "yes_no":
        return st.sampled_from(["yes", "no", True, False, "1", "0", "Y"])
    if spec.type == "date":
        low = dt.date.fromisoformat(spec.min or "2020-01-01")
        high = dt.date.fromisoformat(spec.max or "2035-12-31")
        return st.dates(low, high).map(dt.date.isoformat)
    if spec.type == "phone":
        return st.from_regex(r"\+[1-9][0-9]{6,12}", fullmatch=True)
    if spec.type == "email":
        return st.sampled_from(["a@b.de", "Ann.Lee@Example.com"])
    if spec.pattern:
        return st.from_regex(re.compile(spec.pattern), fullmatch=True)
    return st.text("abcdefgh", min_size=max(spec.min_length or 0, 1), max_size=spec.max_length or 20)


def _drive(data: st.DataObject, graph: dict[str, Any]) -> None:
    interpreter = Interpreter(graph)
    contact = data.draw(
        st.fixed_dictionaries(
            {},
            optional={
                "first_name": st.text(max_size=5),
                "city": st.sampled_from(["Berlin", "Rome"]),
                "vip": st.booleans(),
            },
        )
    )
    run = Run(interpreter, contact=contact)
    backs = 0
    for _ in range(4 * len(graph["nodes"]) + 10):
        step = run.current
        if step.final:
            assert step.disposition in graph["dispositions"]
            return
        if backs < 3 and data.draw(st.integers(0, 9)) == 0:
            backs += 1
            run.back()
            continue
        if step.kind == "question":
            assert step.question is not None
            raw = (
                ""
                if not step.question.required and data.draw(st.booleans())
                else data.draw(valid_raw(step.question))
            )
            result = run.submit(raw)
            assert result.ok, (step.node, raw, result)
        elif step.kind == "automatic":
            choice = data.draw(st.sampled_from([None, *(o.value for o in step.options)]))
            assert run.submit(choice).ok
        else:
            assert run.submit().ok
    raise AssertionError(f"no end reached; stuck at {run.current.node}")


@SETTINGS
@given(graph=valid_graphs(), data=st.data())
def test_accepted_random_scripts_end_under_any_valid_answers(
    graph: dict[str, Any], data: st.DataObject
) -> None:
    assert validate(graph) == []
    _drive(data, graph)


@st.composite
def harmless_sample_changes(draw: st.DrawFn) -> dict[str, Any]:
    graph = load_sample(draw(st.sampled_from(SAMPLES)))
    for node in graph["nodes"].values():
        for key in ("text", "prompt"):
            if key in node and draw(st.booleans()):
                node[key] = draw(st.text(st.characters(blacklist_characters="{}"), max_size=40))
        if node["kind"] == "question" and draw(st.booleans()):
            node["required"] = draw(st.booleans())
        if node["kind"] == "end":
            node["disposition"] = draw(st.sampled_from(graph["dispositions"]))
    old = draw(st.sampled_from(sorted(graph["nodes"])))
    new = f"renamed_{old}"
    text = re.sub(rf"\b{old}\b", new, json.dumps(graph))
    return json.loads(text)


@SETTINGS
@given(graph=harmless_sample_changes(), data=st.data())
def test_changed_samples_that_stay_valid_still_end(graph: dict[str, Any], data: st.DataObject) -> None:
    assume(is_valid(graph))
    _drive(data, graph)
