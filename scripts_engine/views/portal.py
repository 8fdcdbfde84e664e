"""The script pages of a client company's portal: scripts, versions, lists, import/export, submit."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from scripts_engine import lifecycle
from scripts_engine.diagram import layers, render_svg
from scripts_engine.editing import (
    NODE_ID,
    blank_graph,
    canonical_graph,
    contact_fields,
    node_summary,
    nodes_of,
    problems_by_node,
    split_words,
)
from scripts_engine.forms import (
    DispositionForm,
    ImportForm,
    NodeAddForm,
    ScriptCreateForm,
    SettingsForm,
    SpecialistForm,
)
from scripts_engine.lifecycle import LifecycleError, ScriptProblems, can_edit
from scripts_engine.models import Disposition, Script, ScriptVersion, Specialist
from scripts_engine.samples import load_sample
from scripts_engine.views.access import access_script, access_version, require_editor, require_reader


@login_required
@require_http_methods(["GET", "POST"])
def script_list(request: HttpRequest) -> HttpResponse:
    require_reader(request)
    form = ScriptCreateForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        require_editor(request)
        if form.is_valid():
            source = form.cleaned_data["source"]
            if source.startswith("sample:"):
                graph = load_sample(source.removeprefix("sample:"))
            elif source == "import":
                graph = form.cleaned_data["graph"]
            else:
                first = Disposition.objects.first()
                graph = blank_graph(form.cleaned_data["name"], first.code if first else None)
            version = lifecycle.script_create(
                name=form.cleaned_data["name"],
                purpose=form.cleaned_data["purpose"],
                graph=graph,
                by=request.user,
            )
            messages.success(request, f"Draft v{version.number} of “{version.script.name}” created.")
            return redirect("script_version", pk=version.pk)
    scripts = Script.objects.prefetch_related("versions")
    return render(
        request, "scripts/list.html", {"scripts": scripts, "form": form, "can_edit": can_edit(request.user)}
    )


@login_required
def script_detail(request: HttpRequest, pk: int) -> HttpResponse:
    script = access_script(request, pk)
    versions = script.versions.select_related("created_by", "submitted_by")
    return render(
        request,
        "scripts/script.html",
        {"script": script, "versions": versions, "can_edit": can_edit(request.user)},
    )


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _node_url(version: ScriptVersion, node_id: str) -> str | None:
    return reverse("script_node", args=[version.pk, node_id]) if NODE_ID.match(node_id) else None


def _version_context(request: HttpRequest, version: ScriptVersion) -> dict[str, object]:
    problems = lifecycle.version_problems(graph=version.graph)
    grouped = problems_by_node(problems)
    nodes = nodes_of(version.graph)
    ordered = [nid for row in layers(version.graph) for nid in row]
    graph = version.graph if isinstance(version.graph, dict) else {}
    editable = version.editable and can_edit(request.user)
    settings_form = SettingsForm(
        initial={
            "title": graph.get("title", ""),
            "description": graph.get("description", ""),
            "start": graph.get("start", ""),
            "contact_fields": ", ".join(contact_fields(graph)),
            "dispositions": _strings(graph.get("dispositions")),
            "specialists": _strings(graph.get("specialists")),
        }
    )
    return {
        "version": version,
        "script": version.script,
        "graph": graph,
        "nodes": [
            (nid, node_summary(nodes[nid]), grouped.get(nid, []), bool(NODE_ID.match(nid))) for nid in ordered
        ],
        "contact_fields": contact_fields(graph),
        "problems": problems,
        "general_problems": grouped.get(None, []),
        "editable": editable,
        "can_edit": can_edit(request.user),
        "can_activate": lifecycle.can_activate(request.user),
        "settings_form": settings_form,
        "add_form": NodeAddForm(),
        "import_form": ImportForm(),
        "diagram": mark_safe(render_svg(graph, problems=grouped, href=lambda nid: _node_url(version, nid))),  # noqa: S308
    }


@login_required
def version_detail(request: HttpRequest, pk: int) -> HttpResponse:
    version = access_version(request, pk)
    return render(request, "scripts/version.html", _version_context(request, version))


@login_required
def version_diagram(request: HttpRequest, pk: int) -> HttpResponse:
    version = access_version(request, pk)
    return render(request, "scripts/diagram.html", _version_context(request, version))


@login_required
@require_POST
def version_settings(request: HttpRequest, pk: int) -> HttpResponse:
    version = access_version(request, pk, edit=True)
    form = SettingsForm(request.POST)
    if not form.is_valid():
        reasons = "; ".join(f"{form.fields[name].label}: {errors[0]}" for name, errors in form.errors.items())
        messages.error(request, f"The settings could not be saved. {reasons}")
        return redirect("script_version", pk=pk)
    data = form.cleaned_data

    def apply(current: object) -> dict:
        graph = dict(current) if isinstance(current, dict) else {}
        graph.update(
            format=1,
            start=data["start"].strip(),
            fields={"contact": split_words(data["contact_fields"])},
            dispositions=data["dispositions"],
            specialists=data["specialists"],
        )
        for key in ("title", "description"):
            if data[key].strip():
                graph[key] = data[key].strip()
            else:
                graph.pop(key, None)
        return graph

    return _save_draft(request, version, apply, "Settings saved.")


def _save_draft(
    request: HttpRequest, version: ScriptVersion, change: Callable[[object], dict], done: str
) -> HttpResponse:
    try:
        problems = lifecycle.version_change_draft(version=version, change=change, by=request.user)
    except LifecycleError as error:
        messages.error(request, str(error))
    else:
        if problems:
            messages.warning(request, f"{done} The script has {len(problems)} problem(s) to fix.")
        else:
            messages.success(request, done)
    return redirect("script_version", pk=version.pk)


@login_required
@require_POST
def version_import(request: HttpRequest, pk: int) -> HttpResponse:
    version = access_version(request, pk, edit=True)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        context = _version_context(request, version)
        context["import_form"] = form
        return render(request, "scripts/version.html", context, status=400)
    graph = form.cleaned_data["graph"]
    return _save_draft(request, version, lambda _: graph, "Imported.")


@login_required
@require_GET
def version_export(request: HttpRequest, pk: int) -> HttpResponse:
    version = access_version(request, pk)
    order = [nid for row in layers(version.graph) for nid in row]
    body = json.dumps(canonical_graph(version.graph, order), indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    safe_name = "".join(c if c.isalnum() else "-" for c in version.script.name).strip("-") or "script"
    response["Content-Disposition"] = f'attachment; filename="{safe_name}-v{version.number}.json"'
    return response


@login_required
@require_POST
def version_submit(request: HttpRequest, pk: int) -> HttpResponse:
    version = access_version(request, pk, edit=True)
    try:
        lifecycle.version_submit(version=version, by=request.user, major=request.POST.get("major") == "on")
    except ScriptProblems as error:
        messages.error(
            request, f"Not submitted: fix the {len(error.problems)} problem(s) listed below first."
        )
    except LifecycleError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, f"Version {version.number} was submitted to your account manager for approval."
        )
    return redirect("script_version", pk=pk)


@login_required
@require_POST
def version_activate(request: HttpRequest, pk: int) -> HttpResponse:
    version = access_version(request, pk)
    try:
        lifecycle.version_activate(version=version, by=request.user)
    except LifecycleError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Version {version.number} is now the one used on calls.")
    return redirect("script_version", pk=pk)


@login_required
@require_POST
def version_new_draft(request: HttpRequest, pk: int) -> HttpResponse:
    version = access_version(request, pk, edit=True)
    draft = lifecycle.version_create_draft(script=version.script, graph=version.graph, by=request.user)
    messages.success(request, f"Draft v{draft.number} created from v{version.number}.")
    return redirect("script_version", pk=draft.pk)


@login_required
@require_http_methods(["GET", "POST"])
def company_lists(request: HttpRequest) -> HttpResponse:
    """The dispositions and specialist numbers scripts may use (R8)."""
    require_reader(request)
    disposition_form = DispositionForm(prefix="d")
    specialist_form = SpecialistForm(prefix="s")
    if request.method == "POST":
        require_editor(request)
        which = request.POST.get("list")
        form = (
            DispositionForm(request.POST, prefix="d")
            if which == "d"
            else SpecialistForm(request.POST, prefix="s")
        )
        if form.is_valid():
            try:
                form.save()
            except IntegrityError:
                messages.error(request, "This code exists already.")
            else:
                messages.success(request, "Added.")
                return redirect("script_lists")
        if which == "d":
            disposition_form = form
        else:
            specialist_form = form
    context = {
        "dispositions": Disposition.objects.all(),
        "specialists": Specialist.objects.all(),
        "disposition_form": disposition_form,
        "specialist_form": specialist_form,
        "can_edit": can_edit(request.user),
    }
    return render(request, "scripts/lists.html", context)


@login_required
@require_POST
def company_list_delete(request: HttpRequest, which: str, pk: int) -> HttpResponse:
    require_editor(request)
    model = {"disposition": Disposition, "specialist": Specialist}.get(which)
    if model is None:
        return redirect("script_lists")
    get_object_or_404(model, pk=pk).delete()
    messages.success(request, "Removed. Scripts that use it will show a problem until they are changed.")
    return redirect("script_lists")
