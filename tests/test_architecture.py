"""The architecture as a contract: which app may import which, and no import circles inside an app
(``[tool.importlinter]`` in pyproject.toml). A change that breaks it fails here, in CI."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = (
    "config",
    "accounts",
    "tenants",
    "scripts_engine",
    "telephony",
    "outbound",
    "reporting",
    "quality",
    "console",
    "operations",
)


def test_the_import_contract_holds():
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_no_module_reaches_into_a_third_party_packages_private_attributes():
    """psycopg, Django, django-tenants, DRF…: only their public API (STYLE.md)."""
    private = ("._autocommit", "_get_tx_start_command", "psycopg.generators", "error_from_result")
    apps = (
        "config",
        "accounts",
        "tenants",
        "scripts_engine",
        "telephony",
        "outbound",
        "reporting",
        "quality",
    )
    found = [
        f"{path.relative_to(ROOT)}: {needle}"
        for app in (*apps, "console")
        for path in (ROOT / app).rglob("*.py")
        for needle in private
        if needle in path.read_text()
    ]
    assert found == []


def test_operator_state_has_one_writer():
    """Only ``telephony.operators.transition`` writes an operator's state (one transition table,
    an event per change); the router and the dialer ask it."""
    assignment = re.compile(
        r"^\s*(profile|operator)\.state\b[\w\s.,]*=[^=]|OperatorProfile\.objects[^\n]*\.update\([^)]*\bstate=",
        re.MULTILINE,
    )
    writers = sorted(
        str(path.relative_to(ROOT))
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and assignment.search(path.read_text())
    )
    assert writers == ["telephony/operators.py"]


def test_payments_have_one_builder():
    """A payment row is built in one function (``tenants.payments``), so the first invoice's, a
    monthly invoice's and a payment out of credit are validated and written alike."""
    builders = sorted(
        f"{path.relative_to(ROOT)}:{function.name}"
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
        for function in ast.walk(ast.parse(path.read_text()))
        if isinstance(function, ast.FunctionDef)
        for call in ast.walk(function)
        if isinstance(call, ast.Call)
        and ast.unparse(call.func)
        in ("Payment", *(f"Payment.objects.{m}" for m in ("create", "bulk_create", "get_or_create")))
    )
    assert builders == ["tenants/payments.py:payment_save"]


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return [node.module or "", *(f"{node.module}.{alias.name}" for alias in node.names)]
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return []


def test_no_function_imports_a_project_module_to_dodge_a_circle():
    """Imports sit at the top of each module; only ``AppConfig.ready()`` connects receivers
    (Django's place for it, when every app is loaded)."""
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    local = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
        for function in ast.walk(ast.parse(path.read_text()))
        if isinstance(function, functions) and function.name != "ready"
        for node in ast.walk(function)
        if any(name.split(".")[0] in APPS for name in _imported(node))
    ]
    assert local == []
