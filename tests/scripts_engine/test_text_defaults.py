"""Empty fields in a script's texts: a default of the field's own or of the script, a clause
left out, and no stray space ("Good day , thank you for calling" before)."""

from __future__ import annotations

from typing import Any

import pytest

from scripts_engine.graph import validate
from scripts_engine.interpreter import Interpreter, Run


def _graph(text: str, defaults: dict[str, str] | None = None) -> dict[str, Any]:
    graph: dict[str, Any] = {
        "format": 1,
        "start": "hello",
        "fields": {"contact": ["first_name", "company"]},
        "nodes": {"hello": {"kind": "end", "text": text, "disposition": "done"}},
        "dispositions": ["done"],
    }
    if defaults is not None:
        graph["defaults"] = defaults
    return graph


def _said(graph: dict[str, Any], **contact: Any) -> str:
    assert validate(graph) == []
    return Run(Interpreter(graph), contact=contact).current.text


GREETING = "Good day {{contact.first_name}}, thank you for calling[[ {{contact.company}}]]."


@pytest.mark.parametrize(
    ("contact", "said"),
    [
        ({"first_name": "Ann", "company": "Lee GmbH"}, "Good day Ann, thank you for calling Lee GmbH."),
        ({}, "Good day, thank you for calling."),
        ({"first_name": "  ", "company": None}, "Good day, thank you for calling."),
    ],
)
def test_an_empty_field_leaves_no_stray_space_and_its_clause_is_left_out(contact, said):
    assert _said(_graph(GREETING), **contact) == said


def test_the_scripts_default_fills_an_empty_field_everywhere():
    graph = _graph(GREETING, defaults={"contact.first_name": "there"})
    assert _said(graph) == "Good day there, thank you for calling."
    assert _said(graph, first_name="Ann") == "Good day Ann, thank you for calling."


def test_a_fields_own_default_goes_before_the_scripts():
    graph = _graph("Hello {{contact.first_name|friend}}!", defaults={"contact.first_name": "there"})
    assert _said(graph) == "Hello friend!"


def test_a_clause_with_a_defaulted_field_stays():
    graph = _graph("Thanks[[ for calling {{contact.company}}]].", defaults={"contact.company": "us"})
    assert _said(graph) == "Thanks for calling us."


def test_defaults_must_name_fields_and_hold_text():
    assert validate(_graph("Hi", defaults={"first_name": "there"}))
    assert validate(_graph("Hi", defaults={"contact.first_name": 3}))
