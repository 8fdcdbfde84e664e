"""What account managers review on the platform host: submitted versions and their diffs.

``unscoped_submitted_versions`` is the one place that reads scripts across client companies; it
switches schema only through ``tenant_context`` and evaluates each query inside it.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from django_tenants.utils import tenant_context

from scripts_engine.editing import nodes_of
from scripts_engine.models import ScriptVersion
from tenants.models import Client


@dataclass(frozen=True)
class SubmittedVersion:
    """A submitted version as listed in the back office, with the client company it belongs to."""

    client: Client
    version_id: int
    script_name: str
    number: int
    submitted_at: Any
    submitted_by: str
    active_number: int | None


@dataclass(frozen=True)
class GraphDiff:
    added: list[str]
    removed: list[str]
    changed: list[str]
    settings_changed: list[str]
    unified: str

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.settings_changed)


def unscoped_submitted_versions() -> list[SubmittedVersion]:
    """Every client company's versions waiting for approval (cross-tenant read, staff only)."""
    found: list[SubmittedVersion] = []
    clients = Client.objects.companies().order_by("name")
    for client in clients:
        with tenant_context(client):
            versions = (
                ScriptVersion.objects.filter(state=ScriptVersion.State.SUBMITTED)
                .select_related("script", "submitted_by")
                .order_by("submitted_at")
            )
            for version in versions:
                active = version.script.active_version
                by = version.submitted_by
                found.append(
                    SubmittedVersion(
                        client=client,
                        version_id=version.pk,
                        script_name=version.script.name,
                        number=version.number,
                        submitted_at=version.submitted_at,
                        submitted_by=(by.get_full_name() or by.username) if by else "",
                        active_number=active.number if active else None,
                    )
                )
    return found


def _pretty(graph: Any) -> list[str]:
    return json.dumps(graph, indent=2, sort_keys=True, ensure_ascii=False).splitlines(keepends=True)


def graph_diff(old: Any, new: Any, *, old_name: str = "active", new_name: str = "submitted") -> GraphDiff:
    """Node-level changes from ``old`` to ``new`` plus a unified diff of their JSON."""
    old_nodes, new_nodes = nodes_of(old), nodes_of(new)
    added = sorted(set(new_nodes) - set(old_nodes))
    removed = sorted(set(old_nodes) - set(new_nodes))
    changed = sorted(n for n in set(old_nodes) & set(new_nodes) if old_nodes[n] != new_nodes[n])
    old_top = old if isinstance(old, dict) else {}
    new_top = new if isinstance(new, dict) else {}
    keys = (set(old_top) | set(new_top)) - {"nodes"}
    settings_changed = sorted(k for k in keys if old_top.get(k) != new_top.get(k))
    unified = "".join(difflib.unified_diff(_pretty(old), _pretty(new), old_name, new_name, n=3))
    return GraphDiff(added, removed, changed, settings_changed, unified)
