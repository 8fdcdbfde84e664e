"""A script version's life: draft → submitted → approved → active → retired.

Client staff (in the tenant's schema) write drafts and submit them; platform account managers
approve or reject on the platform host, inside ``tenant_context``. Activation retires the version
that was active; sessions already running keep the version they pinned.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from accounts.permissions import ACCOUNT_MANAGERS, CLIENT_EDITORS, SCRIPT_ACTIVATORS
from scripts_engine.events import major_version_activated
from scripts_engine.graph import Problem, validate
from scripts_engine.models import Disposition, Script, ScriptVersion, Specialist

MAX_GRAPH_NODES = 2000


class LifecycleError(Exception):
    """The version is not in a state that allows this step."""


class ScriptProblems(LifecycleError):
    """The graph cannot be submitted; ``problems`` name the nodes to fix."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"the script has {len(problems)} problem(s) to fix")


def can_edit(user: User) -> bool:
    return CLIENT_EDITORS.allows(user)


def can_review(user: User) -> bool:
    return ACCOUNT_MANAGERS.allows(user)


def can_activate(user: User) -> bool:
    return SCRIPT_ACTIVATORS.allows(user)


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def version_problems(*, graph: Any) -> list[Problem]:
    """The validator's problems plus dispositions and specialists missing from this company's lists."""
    problems = validate(graph)
    if not isinstance(graph, dict):
        return problems
    declared = graph.get("dispositions")
    if isinstance(declared, list):
        known = set(Disposition.objects.values_list("code", flat=True))
        for code in declared:
            if isinstance(code, str) and code not in known:
                problems.append(
                    Problem(
                        None,
                        "unknown_disposition",
                        f"the disposition '{code}' is not in your company's list of dispositions",
                    )
                )
    declared = graph.get("specialists")
    if isinstance(declared, list):
        known = set(Specialist.objects.values_list("key", flat=True))
        for key in declared:
            if isinstance(key, str) and key not in known:
                problems.append(
                    Problem(
                        None,
                        "unknown_specialist",
                        f"the specialist '{key}' is not in your company's list of specialist numbers",
                    )
                )
    return problems


def storable_problem(graph: Any) -> str | None:
    """Why the database could not store this graph (too many nodes, a NUL character), or None."""
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    if isinstance(nodes, dict) and len(nodes) > MAX_GRAPH_NODES:
        return f"A script may have at most {MAX_GRAPH_NODES} nodes."
    if "\\u0000" in json.dumps(graph):
        return "The script contains a NUL character (\\u0000), which cannot be stored."
    return None


def _check_storable(graph: Any) -> None:
    problem = storable_problem(graph)
    if problem:
        raise LifecycleError(problem)


def script_create(*, name: str, purpose: str, graph: dict[str, Any], by: User) -> ScriptVersion:
    """A new script with its first draft."""
    _require(can_edit(by), "Only editors and admins create scripts.")
    with transaction.atomic():
        script = Script.objects.create(name=name, purpose=purpose)
        return version_create_draft(script=script, graph=graph, by=by)


def version_create_draft(*, script: Script, graph: dict[str, Any], by: User) -> ScriptVersion:
    """The script's next version number, as a draft holding ``graph``."""
    _require(can_edit(by), "Only editors and admins write drafts.")
    _check_storable(graph)
    with transaction.atomic():
        Script.objects.select_for_update().get(pk=script.pk)
        number = (script.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        return ScriptVersion.objects.create(script=script, number=number, graph=graph, created_by=by)


def version_update_draft(*, version: ScriptVersion, graph: dict[str, Any], by: User) -> list[Problem]:
    """Replace a draft's graph (even with a broken one: it is work in progress); return its problems."""
    return version_change_draft(version=version, change=lambda _: graph, by=by)


def version_change_draft(
    *, version: ScriptVersion, change: Callable[[Any], dict[str, Any]], by: User
) -> list[Problem]:
    """Apply ``change`` to the draft's current graph under a row lock, so concurrent edits of other
    nodes are kept; ``change`` may raise LifecycleError to refuse. Returns the new graph's problems."""
    _require(can_edit(by), "Only editors and admins edit drafts.")
    with transaction.atomic():
        locked = ScriptVersion.objects.select_for_update().get(pk=version.pk)
        if locked.state != ScriptVersion.State.DRAFT:
            raise LifecycleError("Only drafts can be edited; start a new draft from this version.")
        graph = change(locked.graph)
        _check_storable(graph)
        locked.graph = graph
        locked.save(update_fields=["graph", "updated_at"])
    version.graph, version.digest = locked.graph, locked.digest
    return version_problems(graph=graph)


def _transition(version: ScriptVersion, expected: str, message: str) -> ScriptVersion:
    locked = ScriptVersion.objects.select_for_update().get(pk=version.pk)
    if locked.state != expected:
        raise LifecycleError(message)
    return locked


def _refresh(version: ScriptVersion) -> ScriptVersion:
    version.refresh_from_db()
    return version


def version_submit(*, version: ScriptVersion, by: User, major: bool = False) -> ScriptVersion:
    """Send a valid draft to the account manager; a broken draft raises ScriptProblems. ``major``:
    operators must certify again when it goes live (the editor says so; the account manager sees it)."""
    _require(can_edit(by), "Only editors and admins submit scripts.")
    with transaction.atomic():
        locked = _transition(version, ScriptVersion.State.DRAFT, "Only a draft can be submitted.")
        problems = version_problems(graph=locked.graph)
        if problems:
            raise ScriptProblems(problems)
        locked.state = ScriptVersion.State.SUBMITTED
        locked.major = major
        locked.submitted_at, locked.submitted_by = timezone.now(), by
        locked.rejected_at, locked.rejection_reason = None, ""
        locked.save()
    return _refresh(version)


def version_approve(*, version: ScriptVersion, by: User) -> ScriptVersion:
    """An account manager (public schema) approves a submitted version; call inside tenant_context."""
    _require(can_review(by), "Only account managers and platform admins approve scripts.")
    with transaction.atomic():
        locked = _transition(
            version, ScriptVersion.State.SUBMITTED, "Only submitted versions can be approved."
        )
        locked.state = ScriptVersion.State.APPROVED
        locked.approved_at, locked.approved_by_id, locked.approved_by_name = (
            timezone.now(),
            by.pk,
            by.shown_name,
        )
        locked.save()
    return _refresh(version)


def version_reject(*, version: ScriptVersion, by: User, reason: str) -> ScriptVersion:
    """Send a submitted version back to draft, with the reason the client staff will read."""
    _require(can_review(by), "Only account managers and platform admins reject scripts.")
    reason = reason.strip()
    if not reason:
        raise LifecycleError("Say why the version is rejected, so the client can fix it.")
    with transaction.atomic():
        locked = _transition(
            version, ScriptVersion.State.SUBMITTED, "Only submitted versions can be rejected."
        )
        locked.state = ScriptVersion.State.DRAFT
        locked.rejected_at, locked.rejected_by_id = timezone.now(), by.pk
        locked.rejected_by_name, locked.rejection_reason = by.shown_name, reason[:2000]
        locked.submitted_at = locked.submitted_by = None
        locked.save()
    return _refresh(version)


def version_activate(*, version: ScriptVersion, by: User) -> ScriptVersion:
    """Put an approved version on calls and retire the active one; running sessions keep theirs.
    A major version announces itself after commit (operators' certificates are voided)."""
    _require(can_activate(by), "You may not activate scripts.")
    with transaction.atomic():
        Script.objects.select_for_update().get(pk=version.script_id)
        locked = _transition(version, ScriptVersion.State.APPROVED, "Only approved versions go live.")
        now = timezone.now()
        ScriptVersion.objects.filter(script_id=locked.script_id, state=ScriptVersion.State.ACTIVE).update(
            state=ScriptVersion.State.RETIRED, retired_at=now
        )
        locked.state = ScriptVersion.State.ACTIVE
        locked.activated_at, locked.activated_by_name = now, by.shown_name
        locked.save()
        if locked.major:
            client_id, number = connection.tenant.pk, locked.number
            transaction.on_commit(
                lambda: major_version_activated.send(
                    sender=ScriptVersion, client_id=client_id, version_id=locked.pk, number=number
                )
            )
    return _refresh(version)
