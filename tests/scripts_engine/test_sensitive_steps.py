"""A script step marked ``sensitive`` (card data: the call's recording pauses there): in the graph's
JSON Schema, in the node editor, and on the step the console gets."""

from __future__ import annotations

import re

from django_tenants.utils import tenant_context

from scripts_engine.graph import validate
from scripts_engine.interpreter import Interpreter
from scripts_engine.models import ScriptVersion
from tests.scripts_engine.test_portal import _create, editor_client  # noqa: F401

GRAPH = {
    "format": 1,
    "start": "card",
    "dispositions": ["paid"],
    "nodes": {
        "card": {
            "kind": "question",
            "text": "Card number?",
            "type": "text",
            "sensitive": True,
            "next": "bye",
        },
        "bye": {"kind": "end", "text": "Bye", "disposition": "paid"},
    },
}


def test_the_schema_takes_sensitive_on_say_and_question_steps_as_true_or_false_only():
    assert validate(GRAPH) == []
    wrong = {**GRAPH, "nodes": {**GRAPH["nodes"], "card": {**GRAPH["nodes"]["card"], "sensitive": "yes"}}}
    problems = validate(wrong)
    assert problems and problems[0].node == "card" and "sensitive" in problems[0].message
    on_end = {**GRAPH, "nodes": {**GRAPH["nodes"], "bye": {**GRAPH["nodes"]["bye"], "sensitive": True}}}
    assert validate(on_end)  # an end step takes no card data


def test_the_step_says_it_is_sensitive():
    step = Interpreter(GRAPH).step(contact={}, answers={})
    assert step.as_dict()["sensitive"] is True
    after = Interpreter(GRAPH).step(contact={}, answers={"card": "4111"})
    assert after.as_dict()["sensitive"] is False


def test_the_node_editor_marks_and_unmarks_a_step_sensitive(editor_client, tenants):  # noqa: F811
    with tenant_context(tenants.alpha):
        version = _create(editor_client)
    url = f"/scripts/versions/{version.pk}/nodes/hours/"
    assert 'name="sensitive"' in editor_client.get(url).content.decode()
    nxt = "goodbye"
    assert editor_client.post(url, {"text": "Your card?", "next": nxt, "sensitive": "on"}).status_code == 302
    with tenant_context(tenants.alpha):
        assert ScriptVersion.objects.get(pk=version.pk).graph["nodes"]["hours"]["sensitive"] is True
    box = re.search(r'<input[^>]*name="sensitive"[^>]*>', editor_client.get(url).content.decode())
    assert box and "checked" in box.group(0)
    editor_client.post(url, {"text": "Your card?", "next": nxt})
    with tenant_context(tenants.alpha):
        assert "sensitive" not in ScriptVersion.objects.get(pk=version.pk).graph["nodes"]["hours"]
