"""The validator refuses broken scripts and names the node to fix."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from scripts_engine.graph import Problem, is_valid, schema, validate
from scripts_engine.samples import SAMPLES, load_sample


def small_script() -> dict[str, Any]:
    return {
        "format": 1,
        "start": "hello",
        "fields": {"contact": ["first_name"]},
        "dispositions": ["done", "sale"],
        "specialists": ["billing"],
        "nodes": {
            "hello": {"kind": "say", "text": "Hi {{contact.first_name}}", "next": "age"},
            "age": {
                "kind": "question",
                "text": "How old are you?",
                "type": "number",
                "min": 0,
                "max": 120,
                "next": "color",
            },
            "color": {
                "kind": "question",
                "text": "Favourite colour?",
                "type": "choice",
                "options": ["red", "blue"],
                "next": "route",
            },
            "route": {
                "kind": "branch",
                "cases": [{"when": 'answers.age >= 18 and answers.color == "red"', "next": "offer"}],
                "otherwise": "bye",
            },
            "offer": {"kind": "transfer", "specialist": "billing", "next": "bye"},
            "bye": {"kind": "end", "disposition": "done"},
        },
    }


def when(condition: str) -> Callable[[dict[str, Any]], None]:
    def change(g: dict[str, Any]) -> None:
        g["nodes"]["route"]["cases"][0]["when"] = condition

    return change


def node(node_id: str, **values: Any) -> Callable[[dict[str, Any]], None]:
    def change(g: dict[str, Any]) -> None:
        for key, value in values.items():
            if value is None:
                g["nodes"][node_id].pop(key, None)
            else:
                g["nodes"][node_id][key] = value

    return change


def add(node_id: str, spec: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def change(g: dict[str, Any]) -> None:
        g["nodes"][node_id] = spec

    return change


def both(*changes: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def change(g: dict[str, Any]) -> None:
        for c in changes:
            c(g)

    return change


def top(**values: Any) -> Callable[[dict[str, Any]], None]:
    def change(g: dict[str, Any]) -> None:
        g.update(values)

    return change


BROKEN = [
    ("kind_missing_next", node("hello", next=None), "hello", "schema"),
    ("unknown_kind", node("age", kind="ask"), "age", "schema"),
    ("unknown_setting", node("hello", colour="red"), "hello", "schema"),
    ("wrong_type", node("age", required="yes"), "age", "schema"),
    ("format_2", top(format=2), None, "schema"),
    ("bad_node_id", add("1st", {"kind": "end", "disposition": "done"}), "1st", "schema"),
    (
        "transfer_with_next_and_disposition",
        node("offer", disposition="sale"),
        "offer",
        "schema",
    ),
    ("choice_without_options", node("color", options=None), "color", "schema"),
    ("missing_start", top(start="nope"), None, "missing_start"),
    ("dangling_edge", node("age", next="nowhere"), "age", "dangling_edge"),
    (
        "unreachable",
        add("orphan", {"kind": "say", "text": "Nobody hears me", "next": "bye"}),
        "orphan",
        "unreachable",
    ),
    (
        "no_end",
        both(
            node("route", otherwise="spin"),
            add("spin", {"kind": "question", "text": "Again?", "type": "yes_no", "next": "spin2"}),
            add("spin2", {"kind": "say", "text": "Once more.", "next": "spin"}),
        ),
        "spin",
        "no_end",
    ),
    (
        "endless_loop",
        both(
            node("offer", next="again"),
            add("again", {"kind": "say", "text": "Hello again", "next": "check"}),
            add(
                "check",
                {
                    "kind": "branch",
                    "cases": [{"when": "answers.age > 1", "next": "again"}],
                    "otherwise": "bye",
                },
            ),
        ),
        "again",
        "endless_loop",
    ),
    (
        "unknown_contact_field",
        node("hello", text="Hi {{contact.nickname}}"),
        "hello",
        "unknown_field",
    ),
    ("malformed_field", node("hello", text="Hi {{first_name}}"), "hello", "unknown_field"),
    ("unknown_answer_in_condition", when("answers.height > 3"), "route", "unknown_field"),
    ("contact_field_in_condition", when('contact.city == "Berlin"'), "route", "unknown_field"),
    ("answer_before_question", node("hello", text="You are {{answers.age}}"), "hello", "answer_too_early"),
    ("number_vs_text", when('answers.age == "old"'), "route", "type_mismatch"),
    ("in_on_number", when('answers.age in ["1", "2"]'), "route", "type_mismatch"),
    (
        "yes_no_vs_number",
        both(node("color", type="yes_no", options=None), when("answers.color == 1")),
        "route",
        "type_mismatch",
    ),
    ("ordering_a_choice", when('answers.color > "red"'), "route", "type_mismatch"),
    ("not_a_condition", when("answers.age"), "route", "type_mismatch"),
    ("not_an_option", when('answers.color == "green"'), "route", "not_an_option"),
    ("not_an_option_in_list", when('answers.color in ["red", "pink"]'), "route", "not_an_option"),
    ("syntax_error", when("answers.age >"), "route", "bad_expression"),
    ("single_equals", when("answers.age = 3"), "route", "bad_expression"),
    ("unbalanced", when("(answers.age > 3"), "route", "bad_expression"),
    ("unknown_disposition", node("bye", disposition="won"), "bye", "unknown_disposition"),
    ("unknown_specialist", node("offer", specialist="legal"), "offer", "unknown_specialist"),
    ("min_above_max", node("age", min=10, max=5), "age", "bad_limits"),
    ("pattern_on_number", node("age", pattern="[0-9]+"), "age", "bad_limits"),
    (
        "broken_pattern",
        node("color", type="text", options=None, pattern="([a-z"),
        "color",
        "bad_limits",
    ),
    (
        "date_limit_not_a_date",
        node("age", type="date", min="tomorrow", max=None),
        "age",
        "bad_limits",
    ),
]


@pytest.mark.parametrize(
    ("change", "node_id", "code"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_broken_script_is_refused_naming_the_node(
    change: Callable[[dict[str, Any]], None], node_id: str | None, code: str
) -> None:
    graph = small_script()
    change(graph)
    problems = validate(graph)
    assert (node_id, code) in {(p.node, p.code) for p in problems}, problems
    assert not is_valid(graph)
    assert all(isinstance(p, Problem) and p.message for p in problems)


def test_the_small_script_used_above_is_valid() -> None:
    assert validate(small_script()) == []


SURVEY_BROKEN = [
    (
        "automatic_straight_to_operator_question",
        lambda g: g["nodes"]["rating"]["options"][5].update(next="operator_note"),
        "operator_note",
        "needs_handover",
    ),
    (
        "automatic_timeout_to_a_say",
        lambda g: (
            g["nodes"].update(sorry={"kind": "say", "text": "Sorry.", "next": "no_answer"}),
            g["nodes"]["rating"].update(timeout_next="sorry"),
        ),
        "sorry",
        "needs_handover",
    ),
    (
        "same_digits_twice",
        lambda g: g["nodes"]["rating"]["options"][1].update(digits="1"),
        "rating",
        "duplicate_option",
    ),
    (
        "same_word_for_two_options",
        lambda g: g["nodes"]["recommend"]["options"][1].update(speech=["no", "Sure"]),
        "recommend",
        "duplicate_option",
    ),
    (
        "option_without_digits_or_speech",
        lambda g: (
            g["nodes"]["recommend"]["options"][0].pop("digits")
            and g["nodes"]["recommend"]["options"][0].pop("speech")
        ),
        "recommend",
        "schema",
    ),
    (
        "digits_not_keypad",
        lambda g: g["nodes"]["recommend"]["options"][0].update(digits="A"),
        "recommend",
        "schema",
    ),
    (
        "automatic_answer_not_an_option",
        lambda g: g["nodes"]["thanks_branch"]["cases"][0].update(when='answers.rating == "9"'),
        "thanks_branch",
        "not_an_option",
    ),
]


@pytest.mark.parametrize(
    ("change", "node_id", "code"),
    [case[1:] for case in SURVEY_BROKEN],
    ids=[case[0] for case in SURVEY_BROKEN],
)
def test_broken_automatic_part_is_refused(
    change: Callable[[dict[str, Any]], Any], node_id: str, code: str
) -> None:
    graph = load_sample("survey")
    change(graph)
    assert (node_id, code) in {(p.node, p.code) for p in validate(graph)}


@pytest.mark.parametrize("name", SAMPLES)
def test_samples_are_valid(name: str) -> None:
    assert validate(load_sample(name)) == []


@pytest.mark.parametrize("name", SAMPLES)
def test_samples_conform_to_the_published_json_schema(name: str) -> None:
    jsonschema.Draft202012Validator(schema()).validate(load_sample(name))


@pytest.mark.parametrize(
    "value",
    [None, 0, "script", [], [1, 2], {}, {"format": 1}, {"nodes": []}, {"format": 1, "start": 3}],
)
def test_non_scripts_are_refused_without_raising(value: Any) -> None:
    problems = validate(value)
    assert problems
    assert {p.code for p in problems} == {"schema"}


def test_schema_problem_reads_well_for_script_authors() -> None:
    graph = small_script()
    graph["nodes"]["hello"].pop("next")
    graph["nodes"]["age"]["extra_setting"] = True
    messages = {p.node: p.message for p in validate(graph)}
    assert messages["hello"] == "this node is missing 'next'"
    assert "extra_setting" in messages["age"]


def test_loop_with_a_question_and_an_exit_is_allowed() -> None:
    graph = small_script()
    graph["nodes"]["route"]["otherwise"] = "more"
    graph["nodes"]["more"] = {"kind": "question", "text": "More?", "type": "yes_no", "next": "more_branch"}
    graph["nodes"]["more_branch"] = {
        "kind": "branch",
        "cases": [{"when": "answers.more", "next": "age"}],
        "otherwise": "bye",
    }
    assert validate(graph) == []


def test_answer_may_be_used_inside_a_loop_after_its_question() -> None:
    graph = small_script()
    graph["nodes"]["bye"] = {"kind": "say", "text": "Again, {{answers.color}}?", "next": "again"}
    graph["nodes"]["again"] = {
        "kind": "branch",
        "cases": [{"when": 'answers.color == "blue"', "next": "age"}],
        "otherwise": "end",
    }
    graph["nodes"]["end"] = {"kind": "end", "disposition": "done"}
    assert validate(graph) == []


def test_validation_does_not_change_the_graph() -> None:
    graph = load_sample("sales")
    before = copy.deepcopy(graph)
    validate(graph)
    assert graph == before


def test_schema_file_is_a_draft_2020_12_schema() -> None:
    raw = json.loads(json.dumps(schema()))
    assert raw["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(raw)
