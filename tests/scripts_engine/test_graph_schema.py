"""The schema check's cost structure: validators built once per process, only invalid nodes worded."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import given

from bench.scripts import build_script
from scripts_engine import graph_schema
from scripts_engine.graph import schema
from tests.scripts_engine.test_properties import SETTINGS, mutated_samples

FULL = jsonschema.Draft202012Validator(schema())


def _full_problems(graph: Any) -> list[tuple[str | None, str]]:
    """What schema_problems said before it worded the invalid nodes only: the whole graph, worded."""
    return sorted(
        (graph_schema._problem(error) for error in FULL.iter_errors(graph)), key=lambda p: (p[0] or "", p[1])
    )


def test_no_validator_is_built_per_call_or_per_node(monkeypatch: pytest.MonkeyPatch) -> None:
    graph = build_script(100)
    broken = {**graph, "nodes": {**graph["nodes"], "say_1": {**graph["nodes"]["say_1"], "text": 3}}}
    graph_schema.schema_problems(graph)
    graph_schema.schema_problems(broken)

    def build(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("schema_problems built a validator again")

    monkeypatch.setattr(graph_schema, "Draft202012Validator", build)
    assert graph_schema.schema_problems(graph) == []
    assert graph_schema.schema_problems(broken) == [("say_1", "'text' must be text in quotes")]


@SETTINGS
@given(graph=mutated_samples())
def test_wording_the_invalid_nodes_only_gives_the_same_problems(graph: Any) -> None:
    problems = graph_schema.schema_problems(graph)
    assert problems == _full_problems(graph)
    assert (problems == []) == FULL.is_valid(graph)
