"""Fixtures for the Django side of scripts: a client company's lists and a script with versions."""

from __future__ import annotations

from typing import Any

from django_tenants.utils import tenant_context

from accounts.models import Role, User
from scripts_engine import lifecycle
from scripts_engine.models import Disposition, ScriptVersion, Specialist
from scripts_engine.samples import load_sample
from tenants.models import Client
from tests.conftest import make_user


def seed_lists(tenant: Client, graph: dict[str, Any]) -> None:
    """The dispositions and specialists ``graph`` declares, in ``tenant``'s lists."""
    with tenant_context(tenant):
        for code in graph.get("dispositions", []):
            Disposition.objects.get_or_create(code=code, defaults={"label": code.replace("_", " ").title()})
        for n, key in enumerate(graph.get("specialists", [])):
            Specialist.objects.get_or_create(
                key=key, defaults={"name": key.title(), "phone": f"+4930123450{n:02d}"}
            )


def active_script(
    tenant: Client, sample: str = "hotline", name: str = "Hotline"
) -> tuple[ScriptVersion, User]:
    """A script whose v1 (the sample) is approved and active; returns it and its editor."""
    graph = load_sample(sample)
    seed_lists(tenant, graph)
    editor = make_user(tenant, role=Role.CLIENT_ADMIN)
    manager = make_user(None, role=Role.ACCOUNT_MANAGER)
    with tenant_context(tenant):
        version = lifecycle.script_create(name=name, purpose="inbound", graph=graph, by=editor)
        lifecycle.version_submit(version=version, by=editor)
        lifecycle.version_approve(version=version, by=manager)
        lifecycle.version_activate(version=version, by=manager)
    return version, editor
