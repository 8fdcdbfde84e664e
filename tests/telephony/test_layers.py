"""The call side of telephony imports downwards only, at the top of each module.

Lowest first: the models; events, TwiML, signatures; the Twilio gateway; the router, the company's
setup and hours; the call records; the call flows, the bridge and recordings; the Celery entry
points (``tasks``: thin, importing the domain modules); the webhooks and answering (which enqueue
tasks, and which nothing below imports). No function-local import dodges a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

RANKS = {
    "telephony.routing_models": 0,
    "telephony.calls.models": 0,
    "telephony.models": 1,  # with the router's models
    "telephony.events": 2,
    "telephony.twiml": 2,
    "telephony.signatures": 2,
    "telephony.gateway": 3,
    "telephony.routing": 4,
    "telephony.calls.hours": 4,
    "telephony.calls.company": 4,
    "telephony.calls.records": 5,
    "telephony.calls.flows": 6,
    "telephony.calls.bridging": 6,
    "telephony.recordings": 6,
    "telephony.tasks": 7,
    "telephony.webhooks": 8,
    "telephony.calls.answering": 8,
}
# Modules checked for what they import (the router's own package is another engineer's rewrite).
CHECKED = sorted(name for name in RANKS if name != "telephony.routing")


def _path(module: str) -> Path:
    return ROOT.joinpath(*module.split(".")).with_suffix(".py")


def _imports(module: str) -> tuple[set[str], list[int]]:
    """The modules ``module`` imports at its top, and the lines of any import inside a function."""
    tree = ast.parse(_path(module).read_text())
    top: set[str] = set()
    nested: list[int] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if node not in tree.body:
            nested.append(node.lineno)
            continue
        if isinstance(node, ast.Import):
            top.update(alias.name for alias in node.names)
        elif node.module:
            top.add(node.module)
            top.update(f"{node.module}.{alias.name}" for alias in node.names)  # submodules by name
    return top, nested


@pytest.mark.parametrize("module", CHECKED)
def test_a_call_side_module_imports_only_lower_layers_and_only_at_its_top(module):
    top, nested = _imports(module)
    assert not nested, f"{module} imports inside functions (lines {nested})"
    upwards = sorted(name for name in top if RANKS.get(name, -1) >= RANKS[module] and name != module)
    assert not upwards, f"{module} imports {upwards}, not below it"


def test_telephony_never_imports_the_apps_above_it():
    """Reporting (and the like) listen to ``telephony.events``; telephony imports none of them."""
    for path in sorted((ROOT / "telephony").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not [n for n in names if n.split(".")[0] == "reporting"], path
