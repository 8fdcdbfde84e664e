"""Runs a script: which step comes next given the answers so far. Pure Python, no I/O.

The same interpreter serves the operator console, the IVR webhook and the browser test-run. It
keeps no state between calls: the caller passes the contact, the answers (node id -> normalised
value), the nodes already acknowledged (``seen``: says, handovers, transfers that came back) and,
after going back, the node to ``reopen``. The path is recomputed from the start each time, so
changing an earlier answer re-routes the call while every answer given stays in the answers.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from scripts_engine.answer_checks import check_answer, match_speech
from scripts_engine.graph import Node, Problem, compile_graph
from scripts_engine.steps import AUTOMATIC, OPERATOR, Answer, Step, question_spec

NO_INPUT = None
"""Store this as an automatic node's answer when the caller gave no (usable) input."""

_ACKNOWLEDGED = frozenset({"say", "handover"})


class InvalidScript(ValueError):
    """Raised when a graph that fails validation is given to the interpreter."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        summary = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"the script is not valid: {summary}{more}")


class Interpreter:
    """A compiled, approved-shape script; build one per script version and reuse it."""

    def __init__(self, graph: Any) -> None:
        compiled = compile_graph(graph)
        if compiled.problems:
            raise InvalidScript(compiled.problems)
        self.start = compiled.start
        self.nodes: dict[str, Node] = compiled.nodes
        self.dispositions = compiled.dispositions
        self.specialists = compiled.specialists
        self._specs = {nid: question_spec(n) for nid, n in self.nodes.items()}
        self._required = {nid: s.required for nid, s in self._specs.items() if s is not None}
        self._by_value = {
            nid: {o.value: o.next for o in n.options}
            for nid, n in self.nodes.items()
            if n.kind == "automatic"
        }
        self._patterns = {nid: re.compile(s.pattern) for nid, s in self._specs.items() if s and s.pattern}
        self._limit = len(self.nodes) + 1

    def step(
        self,
        *,
        contact: Mapping[str, Any] | None = None,
        answers: Mapping[str, Any] | None = None,
        seen: Collection[str] = (),
        reopen: str | None = None,
    ) -> Step:
        """The current step: walk from the start, passing answered and acknowledged nodes.

        A node met a second time closes a loop: the step is returned with ``repeat`` set and the
        ``loop`` nodes listed, to be asked again after ``new_round``.
        """
        contact = contact if isinstance(contact, Mapping) else {}
        answers = answers if isinstance(answers, Mapping) else {}
        if not isinstance(seen, (set, frozenset)):
            seen = frozenset(x for x in seen if isinstance(x, str))
        nodes, required, by_value = self.nodes, self._required, self._by_value
        node_id = self.start
        path: list[str] = []
        on_path: set[str] = set()
        mode = OPERATOR
        for _ in range(self._limit):
            node = nodes[node_id]
            if node_id in on_path:
                loop = tuple(path[path.index(node_id) :])
                path.append(node_id)
                return self._make(node, mode, path, contact, answers, repeat=True, loop=loop)
            on_path.add(node_id)
            path.append(node_id)
            kind = node.kind
            if kind == "branch":
                target = node.otherwise
                for condition, case_next in node.cases:
                    if condition(answers, contact):
                        target = case_next
                        break
                node_id = target
                continue
            if kind == "automatic":
                mode = AUTOMATIC
            if node_id == reopen:
                return self._make(node, mode, path, contact, answers)
            if kind == "question":
                if answers.get(node_id) is not None or (node_id in answers and not required[node_id]):
                    node_id = node.next
                    continue
            elif kind == "automatic":
                if node_id in answers:
                    value = answers[node_id]
                    if value is None:
                        node_id = node.timeout_next
                        continue
                    target = by_value[node_id].get(value) if isinstance(value, str) else None
                    if target is not None:
                        node_id = target
                        continue
            elif node_id in seen and (
                kind in _ACKNOWLEDGED or (kind == "transfer" and node.next is not None)
            ):
                if kind == "handover":
                    mode = OPERATOR
                node_id = node.next
                continue
            return self._make(node, mode, path, contact, answers)
        return self._make(nodes[node_id], mode, path, contact, answers)

    def _make(
        self,
        node: Node,
        mode: str,
        path: list[str],
        contact: Mapping[str, Any],
        answers: Mapping[str, Any],
        *,
        repeat: bool = False,
        loop: tuple[str, ...] = (),
    ) -> Step:
        return Step(
            node=node.id,
            kind=node.kind,
            mode=mode,
            text=node.text.render(contact, answers) if node.text else "",
            path=tuple(path),
            question=self._specs[node.id],
            options=node.options,
            disposition=node.disposition,
            specialist=node.specialist,
            answered=node.id in answers,
            value=answers.get(node.id),
            repeat=repeat,
            loop=loop,
            sensitive=node.raw.get("sensitive") is True,
        )

    def back(
        self,
        current: Step,
        *,
        contact: Mapping[str, Any] | None = None,
        answers: Mapping[str, Any] | None = None,
        seen: Collection[str] = (),
    ) -> Step:
        """The step before ``current`` on its path, reopened; keep its ``node`` as ``reopen``."""
        earlier = [nid for nid in current.path[:-1] if nid in self.nodes and self.nodes[nid].kind != "branch"]
        if not earlier:
            return current
        return self.step(contact=contact, answers=answers, seen=seen, reopen=earlier[-1])

    def new_round(
        self, step: Step, answers: Mapping[str, Any], seen: Collection[str] = ()
    ) -> tuple[dict[str, Any], set[str]]:
        """Answers and seen nodes for another round of the loop ``step`` closed.

        Returns copies without the loop's nodes; the caller keeps the previous round's answers
        (e.g. in its answer log) so that nothing given is lost.
        """
        loop = set(step.loop)
        kept = {k: v for k, v in answers.items() if k not in loop}
        return kept, {s for s in seen if s not in loop}

    def answer(self, node_id: str, raw: Any) -> Answer:
        """Check and normalise a raw answer to a question (or an automatic node's option)."""
        spec = self._specs.get(node_id) if isinstance(node_id, str) else None
        if spec is None:
            return Answer(False, f"{node_id!r} is not a question")
        if self.nodes[node_id].kind == "automatic":
            if raw is None:
                return Answer(True, NO_INPUT)
            if isinstance(raw, str) and raw in self._by_value[node_id]:
                return Answer(True, raw)
            as_text = raw if isinstance(raw, str) else None
            return self.match(node_id, digits=as_text, speech=as_text)
        return check_answer(spec, raw, self._patterns.get(node_id))

    def match(self, node_id: str, *, digits: str | None = None, speech: str | None = None) -> Answer:
        """The option of an automatic node chosen by keypad ``digits`` or recognised ``speech``."""
        node = self.nodes.get(node_id) if isinstance(node_id, str) else None
        if node is None or node.kind != "automatic":
            return Answer(False, f"{node_id!r} is not an automatic node")
        if isinstance(digits, str) and digits.strip():
            keys = digits.strip()
            for candidate in (keys, keys.rstrip("#")):
                for option in node.options:
                    if option.digits is not None and option.digits == candidate:
                        return Answer(True, option.value)
        if isinstance(speech, str) and speech.strip():
            option = match_speech(node.options, speech)
            if option is not None:
                return Answer(True, option.value)
        return Answer(False, "No option matches this input.")


@dataclass
class Run:
    """A stateful walk through one script, for the browser test-run and for tests.

    The console and IVR keep the same three things (answers, seen, reopen) in their own storage.
    """

    interpreter: Interpreter
    contact: Mapping[str, Any] = field(default_factory=dict)
    answers: dict[str, Any] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    reopen: str | None = None
    rounds: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> Step:
        """The current step; a closed loop starts a new round, keeping the old one in ``rounds``."""
        step = self._step()
        if step.repeat and step.kind != "end":
            self.rounds.append({k: v for k, v in self.answers.items() if k in step.loop})
            self.answers, self.seen = self.interpreter.new_round(step, self.answers, self.seen)
            step = self._step()
        return step

    def _step(self) -> Step:
        return self.interpreter.step(
            contact=self.contact, answers=self.answers, seen=self.seen, reopen=self.reopen
        )

    def submit(self, raw: Any = None) -> Answer:
        """Answer the current question, pick an automatic option, or acknowledge a say/transfer."""
        step = self.current
        if step.final:
            return Answer(False, "The script has ended.")
        if step.kind in {"question", "automatic"}:
            result = self.interpreter.answer(step.node, raw)
            if result.ok:
                self.answers[step.node] = result.value
                self.reopen = None
            return result
        self.seen.add(step.node)
        self.reopen = None
        return Answer(True, None)

    def back(self) -> Step:
        """Go back one step; answers stay, and the path is recomputed when one changes."""
        step = self.interpreter.back(self.current, contact=self.contact, answers=self.answers, seen=self.seen)
        self.reopen = step.node
        return step
