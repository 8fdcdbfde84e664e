"""Editing a draft node by node, with live validation of the unsaved form."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from scripts_engine import lifecycle
from scripts_engine.editing import (
    FIELDS_BY_KIND,
    KIND_LABELS,
    graph_with_node,
    graph_without_node,
    node_from_fields,
    node_to_fields,
    nodes_of,
)
from scripts_engine.forms import NodeAddForm, NodeForm
from scripts_engine.lifecycle import LifecycleError
from scripts_engine.models import Disposition, ScriptVersion, Specialist
from scripts_engine.views.access import access_version, checked_node_id


def _redirect_to_version(version: ScriptVersion, anchor: str = "") -> HttpResponse:
    response = redirect("script_version", pk=version.pk)
    response["Location"] += f"#node-{anchor}" if anchor else ""
    return response


@login_required
@require_POST
def node_add(request: HttpRequest, pk: int) -> HttpResponse:
    version = access_version(request, pk, edit=True)
    form = NodeAddForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return _redirect_to_version(version)
    node_id, kind = form.cleaned_data["node_id"], form.cleaned_data["kind"]

    def add(graph: object) -> dict:
        if node_id in nodes_of(graph):
            raise LifecycleError(f"There is a node “{node_id}” already.")
        return graph_with_node(graph, node_id, {"kind": kind})

    try:
        lifecycle.version_change_draft(version=version, change=add, by=request.user)
    except LifecycleError as error:
        messages.error(request, str(error))
        return _redirect_to_version(version)
    return redirect("script_node", pk=version.pk, node_id=node_id)


def _node_problems(version: ScriptVersion, graph: dict, node_id: str) -> tuple[list, list]:
    problems = lifecycle.version_problems(graph=graph)
    return [p for p in problems if p.node == node_id], [p for p in problems if p.node != node_id]


@login_required
@require_http_methods(["GET", "POST"])
def node_edit(request: HttpRequest, pk: int, node_id: str) -> HttpResponse:
    version = access_version(request, pk)
    node_id = checked_node_id(node_id)
    node = nodes_of(version.graph).get(node_id)
    if not isinstance(node, dict):
        return render(
            request, "scripts/node_missing.html", {"version": version, "node_id": node_id}, status=404
        )
    kind = str(node.get("kind", "say"))
    field_errors: dict[str, str] = {}
    form = NodeForm(initial=node_to_fields(node))
    if request.method == "POST":
        access_version(request, pk, edit=True)
        form = NodeForm(request.POST)
        new_node, field_errors = node_from_fields(kind, request.POST)
        if not form.is_valid():
            field_errors.update({name: errors[0] for name, errors in form.errors.items()})
        if not field_errors:
            make_start = bool(request.POST.get("make_start"))

            def edit(graph: object) -> dict:
                changed = graph_with_node(graph, node_id, new_node)
                if make_start:
                    changed["start"] = node_id
                return changed

            try:
                problems = lifecycle.version_change_draft(version=version, change=edit, by=request.user)
            except LifecycleError as error:
                messages.error(request, str(error))
            else:
                mine = [p for p in problems if p.node == node_id]
                if mine:
                    messages.warning(request, f"Node “{node_id}” saved with {len(mine)} problem(s) to fix.")
                else:
                    messages.success(request, f"Node “{node_id}” saved.")
            return _redirect_to_version(version, node_id)
        node = new_node
    own, others = _node_problems(version, version.graph, node_id)
    context = {
        "version": version,
        "script": version.script,
        "node_id": node_id,
        "kind": kind,
        "kind_label": KIND_LABELS.get(kind, kind),
        "form": form,
        "fields": [(form[name], field_errors.get(name)) for name in FIELDS_BY_KIND.get(kind, ())],
        "field_errors": field_errors,
        "own_problems": own,
        "other_problems": others,
        "node_ids": sorted(nodes_of(version.graph)),
        "disposition_codes": Disposition.objects.values_list("code", flat=True),
        "specialist_keys": Specialist.objects.values_list("key", flat=True),
        "editable": version.editable and lifecycle.can_edit(request.user),
        "is_start": version.graph.get("start") == node_id,
    }
    return render(request, "scripts/node.html", context, status=400 if field_errors else 200)


@login_required
@require_POST
def node_check(request: HttpRequest, pk: int, node_id: str) -> JsonResponse:
    """Live validation: the problems the script would have with this unsaved form (nothing is saved)."""
    version = access_version(request, pk, edit=True)
    node_id = checked_node_id(node_id)
    node = nodes_of(version.graph).get(node_id)
    if not isinstance(node, dict):
        return JsonResponse({"error": "No such node."}, status=404)
    new_node, field_errors = node_from_fields(str(node.get("kind")), request.POST)
    form = NodeForm(request.POST)
    if not form.is_valid():
        field_errors.update({name: errors[0] for name, errors in form.errors.items()})
        return JsonResponse({"field_errors": field_errors, "problems": [], "other_problems": []})
    own, others = _node_problems(version, graph_with_node(version.graph, node_id, new_node), node_id)
    return JsonResponse(
        {
            "field_errors": field_errors,
            "problems": [{"code": p.code, "message": p.message} for p in own],
            "other_problems": [{"node": p.node, "code": p.code, "message": p.message} for p in others],
        }
    )


@login_required
@require_POST
def node_delete(request: HttpRequest, pk: int, node_id: str) -> HttpResponse:
    version = access_version(request, pk, edit=True)
    node_id = checked_node_id(node_id)
    try:
        lifecycle.version_change_draft(
            version=version, change=lambda graph: graph_without_node(graph, node_id), by=request.user
        )
    except LifecycleError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Node “{node_id}” deleted; arrows that led to it are shown as problems.")
    return _redirect_to_version(version)
