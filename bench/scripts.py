"""Dialog scripts: validation time and step cost on a generated 500-node script."""

from __future__ import annotations

import statistics
import time
from typing import Any

from scripts_engine.graph import validate
from scripts_engine.interpreter import Interpreter

GOAL_VALIDATE_MS = 50
GOAL_STEP_MS = 0.2


def build_script(nodes: int = 500) -> dict[str, Any]:
    """A script of ``nodes`` nodes: segments of say, number question, branch, say / choice question."""
    segments = (nodes - 1) // 5
    pad = nodes - 1 - 5 * segments
    graph_nodes: dict[str, dict[str, Any]] = {}
    for i in range(segments):
        following = f"say_{i + 1}" if i + 1 < segments else ("pad_0" if pad else "done")
        earlier = f" and answers.q_{i - 1} <= 10" if i else ""
        graph_nodes[f"say_{i}"] = {
            "kind": "say",
            "text": f"Part {i} for {{{{contact.first_name}}}}, last answer {{{{answers.q_{max(i - 1, 0)}}}}}"
            if i
            else "Hello {{contact.first_name}}",
            "next": f"q_{i}",
        }
        graph_nodes[f"q_{i}"] = {
            "kind": "question",
            "text": f"Question {i}?",
            "type": "number",
            "min": 0,
            "max": 10,
            "next": f"br_{i}",
        }
        graph_nodes[f"br_{i}"] = {
            "kind": "branch",
            "cases": [{"when": f"answers.q_{i} > 5{earlier}", "next": f"hi_{i}"}],
            "otherwise": f"lo_{i}",
        }
        graph_nodes[f"hi_{i}"] = {"kind": "say", "text": "High.", "next": following}
        graph_nodes[f"lo_{i}"] = {
            "kind": "question",
            "text": "Why so low?",
            "type": "choice",
            "options": ["price", "quality", "other"],
            "next": following,
        }
    pad = nodes - 1 - 5 * segments
    for k in range(pad):
        graph_nodes[f"pad_{k}"] = {
            "kind": "say",
            "text": "Anything else?",
            "next": f"pad_{k + 1}" if k + 1 < pad else "done",
        }
    graph_nodes["done"] = {"kind": "end", "disposition": "done"}
    return {
        "format": 1,
        "start": "say_0",
        "fields": {"contact": ["first_name"]},
        "dispositions": ["done"],
        "nodes": graph_nodes,
    }


def _walk(interpreter: Interpreter, timings: list[float]) -> int:
    contact = {"first_name": "Ann"}
    answers: dict[str, Any] = {}
    seen: set[str] = set()
    steps = 0
    while True:
        started = time.perf_counter()
        step = interpreter.step(contact=contact, answers=answers, seen=seen)
        timings.append(time.perf_counter() - started)
        steps += 1
        if step.final:
            return steps
        if step.kind == "question":
            raw = "other" if step.question and step.question.type == "choice" else str(steps % 11)
            answers[step.node] = interpreter.answer(step.node, raw).value
        else:
            seen.add(step.node)


def run(quick: bool) -> dict[str, Any]:
    """Median validation time of the 500-node script and median cost of one step while walking it."""
    graph = build_script(500)
    assert not validate(graph), validate(graph)[:3]
    repeats = 10 if quick else 50
    validate_ms = []
    for _ in range(repeats):
        started = time.perf_counter()
        validate(graph)
        validate_ms.append((time.perf_counter() - started) * 1000)
    interpreter = Interpreter(graph)
    timings: list[float] = []
    for _ in range(1 if quick else 5):
        _walk(interpreter, timings)
    step_ms = statistics.median(timings) * 1000
    return {
        "nodes": len(graph["nodes"]),
        "steps_walked": len(timings),
        "validate_500_ms": round(statistics.median(validate_ms), 3),
        "step_ms": round(step_ms, 4),
        "step_p95_ms": round(sorted(timings)[int(len(timings) * 0.95)] * 1000, 4),
        "steps_per_second": round(1000 / step_ms),
        "goal_validate_ms": GOAL_VALIDATE_MS,
        "goal_step_ms": GOAL_STEP_MS,
        "ok": statistics.median(validate_ms) <= GOAL_VALIDATE_MS and step_ms <= GOAL_STEP_MS,
    }
