"""Walking scripts: every sample branch, answer checks per type, going back, templates."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from scripts_engine.interpreter import NO_INPUT, Interpreter, InvalidScript, Run
from scripts_engine.samples import load_sample
from scripts_engine.steps import AUTOMATIC, OPERATOR

ANN = {"first_name": "Ann", "last_name": "Lee", "company": "Lee GmbH"}


def walk(name: str, inputs: list[Any], contact: dict[str, Any] | None = None) -> Run:
    """Feed inputs to each step (None acknowledges a say/transfer/handover) until the end."""
    run = Run(Interpreter(load_sample(name)), contact=contact or ANN)
    for raw in inputs:
        step = run.current
        assert not step.final, f"ended early at {step.node}"
        result = run.submit(raw)
        assert result.ok, (step.node, raw, result.error)
    return run


HOTLINE_WALKS = [
    (["opening hours", None], "goodbye", "resolved"),
    (["delivery status", "ab123456", None], "goodbye", "resolved"),
    (["returns", None, "yes", "Ann@Example.COM", None], "goodbye", "resolved"),
    (["returns", None, "no"], "goodbye", "resolved"),
    (["billing", None, None, "yes", "+49 30 1234567"], "callback_end", "callback"),
    (["billing", None, None, "no"], "escalate", "escalated"),
    (["other", "lost my password"], "goodbye", "resolved"),
]


@pytest.mark.parametrize(("inputs", "end", "disposition"), HOTLINE_WALKS)
def test_hotline_branches_reach_their_end(inputs: list[Any], end: str, disposition: str) -> None:
    run = walk("hotline", [None, *inputs])
    step = run.current
    assert (step.node, step.disposition, step.final) == (end, disposition, True)
    assert step.mode == OPERATOR


def test_hotline_billing_transfer_names_the_specialist() -> None:
    step = walk("hotline", [None, "billing"]).current
    assert (step.kind, step.specialist, step.final) == ("transfer", "billing", False)
    assert step.text == "I am putting you through to our billing team now, Ann."


SALES_WALKS = [
    (
        ["yes", "Barista M", "2", "milk frother, service plan", "2030-05-01", "a@b.de", "yes"],
        "sale",
    ),
    (["yes", "barista xl", "7", "", "2030-05-01", "a@b.de", None, "y"], "sale"),
    (["yes", "Barista S", "1", [], "2030-05-01", "a@b.de", "no"], "no_sale"),
    (["later", "2030-01-15"], "callback"),
    (["no"], "no_sale"),
]


@pytest.mark.parametrize(("inputs", "disposition"), SALES_WALKS)
def test_sales_branches_reach_their_end(inputs: list[Any], disposition: str) -> None:
    step = walk("sales", [None, *inputs]).current
    assert step.final
    assert step.disposition == disposition


def test_sales_big_order_without_service_plan_gets_the_tip() -> None:
    run = walk("sales", [None, "yes", "Barista XL", "7", "", "2030-05-01", "a@b.de"])
    assert run.current.node == "service_tip"
    run = walk("sales", [None, "yes", "Barista XL", "7", "service plan", "2030-05-01", "a@b.de"])
    assert run.current.node == "confirm"


def test_sales_confirmation_renders_all_answers() -> None:
    run = walk("sales", [None, "yes", "Barista M", "2", "cup warmer", "2030-05-01", "a@b.de"])
    assert run.current.text == (
        "So that is 2 x Barista M (cup warmer), delivered on 2030-05-01, "
        "confirmation to a@b.de. Do you confirm the order?"
    )


SURVEY_WALKS = [
    (["5", "yes"], "done", "survey_done", {"rating": "5", "recommend": "yes"}),
    (["1", "2", "no"], "done_sorry", "survey_done", {"low_reason": "not_solved"}),
    (["2", NO_INPUT, NO_INPUT], "done_sorry", "survey_done", {"low_reason": None}),
    ([NO_INPUT], "no_answer", "survey_no_answer", {"rating": None}),
]


@pytest.mark.parametrize(("inputs", "end", "disposition", "stored"), SURVEY_WALKS)
def test_survey_runs_fully_automatic(
    inputs: list[Any], end: str, disposition: str, stored: dict[str, Any]
) -> None:
    run = Run(Interpreter(load_sample("survey")), contact=ANN)
    for raw in inputs:
        step = run.current
        assert (step.kind, step.mode) == ("automatic", AUTOMATIC)
        assert step.options
        assert step.prompt
        assert run.submit(raw).ok
    step = run.current
    assert (step.node, step.disposition, step.mode) == (end, disposition, AUTOMATIC)
    assert stored.items() <= run.answers.items()


def test_survey_zero_hands_over_to_an_operator() -> None:
    interpreter = Interpreter(load_sample("survey"))
    run = Run(interpreter, contact=ANN)
    assert run.submit("0").ok
    step = run.current
    assert (step.kind, step.mode) == ("handover", AUTOMATIC)
    run.submit()
    step = run.current
    assert (step.node, step.kind, step.mode) == ("operator_note", "question", OPERATOR)
    run.submit("Wants a refund")
    assert (run.current.disposition, run.current.mode) == ("survey_operator", OPERATOR)


@pytest.mark.parametrize(
    ("digits", "speech", "value"),
    [
        ("4", None, "4"),
        ("0#", None, "operator"),
        (None, "Five.", "5"),
        (None, "I'd give you a three", "3"),
        (None, "let me talk to a human please", "operator"),
        ("9", "four", "4"),
    ],
)
def test_ivr_matches_digits_and_speech(digits: str | None, speech: str | None, value: str) -> None:
    result = Interpreter(load_sample("survey")).match("rating", digits=digits, speech=speech)
    assert result == (True, value)


@pytest.mark.parametrize(("digits", "speech"), [("9", None), (None, "banana"), (None, ""), (None, None)])
def test_ivr_reports_no_match(digits: str | None, speech: str | None) -> None:
    ok, message = Interpreter(load_sample("survey")).match("rating", digits=digits, speech=speech)
    assert not ok
    assert message


def test_ivr_unmatched_answer_keeps_the_caller_at_the_prompt() -> None:
    interpreter = Interpreter(load_sample("survey"))
    assert interpreter.step(answers={"rating": "banana"}).node == "rating"


def question_script(**question: Any) -> Interpreter:
    return Interpreter(
        {
            "format": 1,
            "start": "q",
            "dispositions": ["done"],
            "nodes": {
                "q": {"kind": "question", "text": "?", "next": "end", **question},
                "end": {"kind": "end", "disposition": "done"},
            },
        }
    )


ANSWERS = [
    ({"type": "text"}, "  hello ", True, "hello"),
    ({"type": "text", "min_length": 3}, "ab", False, None),
    ({"type": "text", "max_length": 3}, "abcd", False, None),
    ({"type": "text", "pattern": "[A-Z]{2}[0-9]{3}"}, "AB123", True, "AB123"),
    ({"type": "text", "pattern": "[A-Z]{2}[0-9]{3}"}, "AB1234", False, None),
    ({"type": "text"}, "", False, None),
    ({"type": "text", "required": False}, "  ", True, None),
    ({"type": "number"}, "42", True, 42),
    ({"type": "number"}, "3,5", True, 3.5),
    ({"type": "number"}, 2.0, True, 2),
    ({"type": "number"}, "4 000", True, 4000),
    ({"type": "number", "min": 1, "max": 10}, "0", False, None),
    ({"type": "number", "min": 1, "max": 10}, "11", False, None),
    ({"type": "number", "integer": True}, "1.5", False, None),
    ({"type": "number"}, "nan", False, None),
    ({"type": "number"}, "1e400", False, None),
    ({"type": "number"}, True, False, None),
    ({"type": "number"}, "twelve", False, None),
    ({"type": "choice", "options": ["Red", "Blue"]}, "red", True, "Red"),
    ({"type": "choice", "options": ["Red", "Blue"]}, "green", False, None),
    ({"type": "multi_choice", "options": ["a", "b", "c"]}, "c, A", True, ["a", "c"]),
    ({"type": "multi_choice", "options": ["a", "b", "c"]}, ["b", "b"], True, ["b"]),
    ({"type": "multi_choice", "options": ["a", "b", "c"]}, ["d"], False, None),
    ({"type": "multi_choice", "options": ["a"]}, [], False, None),
    ({"type": "yes_no"}, "Yes", True, True),
    ({"type": "yes_no"}, "n", True, False),
    ({"type": "yes_no"}, "true", True, True),
    ({"type": "yes_no"}, "0", True, False),
    ({"type": "yes_no"}, 1, True, True),
    ({"type": "yes_no"}, False, True, False),
    ({"type": "yes_no"}, "maybe", False, None),
    ({"type": "date"}, "2024-02-29", True, "2024-02-29"),
    ({"type": "date"}, dt.date(2024, 3, 1), True, "2024-03-01"),
    ({"type": "date"}, "2023-02-29", False, None),
    ({"type": "date"}, "01.03.2024", False, None),
    ({"type": "date", "min": "2024-01-01", "max": "2024-12-31"}, "2025-01-01", False, None),
    ({"type": "date", "min": "2024-01-01"}, "2023-12-31", False, None),
    ({"type": "phone"}, "+49 (30) 123-4567", True, "+49301234567"),
    ({"type": "phone"}, "0049 30 1234567", True, "+49301234567"),
    ({"type": "phone"}, "030 1234567", True, "0301234567"),
    ({"type": "phone"}, "call me", False, None),
    ({"type": "phone"}, "+1 23", False, None),
    ({"type": "phone"}, "+1234567890123456", False, None),
    ({"type": "email"}, " Ann.Lee@Example.COM ", True, "Ann.Lee@example.com"),
    ({"type": "email"}, "ann@localhost", False, None),
    ({"type": "email"}, "ann@@x.de", False, None),
    ({"type": "email"}, "ann..lee@x.de", False, None),
    ({"type": "email"}, 42, False, None),
]


@pytest.mark.parametrize(("question", "raw", "ok", "value"), ANSWERS)
def test_answers_are_checked_and_normalised_per_type(
    question: dict[str, Any], raw: Any, ok: bool, value: Any
) -> None:
    result = question_script(**question).answer("q", raw)
    assert result.ok is ok, result
    if ok:
        assert result.value == value
        assert type(result.value) is type(value)
    else:
        assert isinstance(result.error, str)
        assert result.error


def test_only_questions_take_answers() -> None:
    interpreter = Interpreter(load_sample("hotline"))
    assert not interpreter.answer("greeting", "x").ok
    assert not interpreter.answer("nowhere", "x").ok


def test_back_reopens_the_previous_question_and_keeps_its_answer() -> None:
    run = walk("hotline", [None, "returns", None, "yes"])
    assert run.current.node == "label_email"
    step = run.back()
    assert (step.node, step.value, step.answered) == ("wants_label", True, True)
    assert run.current.node == "wants_label"


def test_changing_an_earlier_answer_recomputes_the_path_and_keeps_all_answers() -> None:
    run = walk("hotline", [None, "returns", None, "yes", "ann@x.de"])
    assert run.current.node == "label_sent"
    assert run.back().node == "label_email"
    assert run.back().node == "wants_label"
    assert run.back().node == "returns_info"
    assert run.back().node == "topic"
    assert run.submit("delivery status").ok
    assert run.current.node == "order_no"
    assert run.answers["wants_label"] is True
    assert run.answers["label_email"] == "ann@x.de"
    run.submit("AB123456")
    assert run.current.path == ("greeting", "topic", "route", "order_no", "order_status")
    assert run.back().node == "order_no"
    assert run.back().node == "topic"
    run.submit("returns")
    assert run.current.node == "label_sent"


def test_back_at_the_start_stays_there() -> None:
    run = Run(Interpreter(load_sample("hotline")), contact=ANN)
    assert run.back().node == "greeting"


def test_step_is_pure_and_path_follows_the_answers() -> None:
    interpreter = Interpreter(load_sample("hotline"))
    answers = {"topic": "returns", "wants_label": False}
    step = interpreter.step(contact=ANN, answers=answers, seen=["greeting", "returns_info"])
    assert step.node == "goodbye"
    assert step.path == (
        "greeting",
        "topic",
        "route",
        "returns_info",
        "wants_label",
        "label_branch",
        "goodbye",
    )
    assert answers == {"topic": "returns", "wants_label": False}


@pytest.mark.parametrize(
    ("contact", "text"),
    [
        ({"first_name": "Ann"}, "Good day Ann, thank"),
        ({}, "Good day, thank"),
        ({"first_name": None}, "Good day, thank"),
        ({"first_name": 7}, "Good day 7, thank"),
    ],
)
def test_templates_fill_contact_fields_and_never_fail(contact: dict[str, Any], text: str) -> None:
    step = Interpreter(load_sample("hotline")).step(contact=contact, answers={})
    assert step.text.startswith(text)


def test_templates_fill_answers() -> None:
    step = Interpreter(load_sample("hotline")).step(
        contact=ANN,
        answers={"topic": "delivery status", "order_no": "AB123456"},
        seen={"greeting"},
    )
    assert (
        step.text == "Look up order AB123456 in the shop system and read its delivery status to the caller."
    )


def test_invalid_graph_is_refused_with_its_problems() -> None:
    graph = load_sample("hotline")
    graph["nodes"]["hours"]["next"] = "nowhere"
    with pytest.raises(InvalidScript) as refused:
        Interpreter(graph)
    assert ("hours", "dangling_edge") in {(p.node, p.code) for p in refused.value.problems}


def loop_script() -> dict[str, Any]:
    return {
        "format": 1,
        "start": "menu",
        "dispositions": ["done"],
        "nodes": {
            "menu": {
                "kind": "question",
                "text": "Topic?",
                "type": "choice",
                "options": ["hours", "prices", "nothing"],
                "next": "route",
            },
            "route": {
                "kind": "branch",
                "cases": [{"when": 'answers.menu == "nothing"', "next": "end"}],
                "otherwise": "info",
            },
            "info": {"kind": "say", "text": "About {{answers.menu}}: ...", "next": "menu"},
            "end": {"kind": "end", "disposition": "done"},
        },
    }


def test_a_loop_asks_again_and_keeps_earlier_rounds() -> None:
    interpreter = Interpreter(loop_script())
    step = interpreter.step(answers={"menu": "hours"}, seen={"info"})
    assert (step.node, step.repeat, step.loop) == ("menu", True, ("menu", "route", "info"))
    run = Run(interpreter)
    run.submit("hours")
    assert run.current.text == "About hours: ..."
    run.submit()
    assert (run.current.node, run.current.answered) == ("menu", False)
    run.submit("prices")
    assert run.current.text == "About prices: ..."
    run.submit()
    run.submit("nothing")
    assert run.current.disposition == "done"
    assert run.rounds == [{"menu": "hours"}, {"menu": "prices"}]


def test_step_as_dict_is_json_ready() -> None:
    import json

    step = Interpreter(load_sample("survey")).step(contact=ANN, answers={})
    data = json.loads(json.dumps(step.as_dict()))
    assert data["options"][0] == {"value": "1", "digits": "1", "speech": ["one", "1"]}
    assert data["mode"] == "automatic"
    assert data["final"] is False
