"""Script review on the platform host: submitted versions of every client company, diff, approve."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST
from django_tenants.utils import tenant_context

from accounts.permissions import ACCOUNT_MANAGERS, role_required
from scripts_engine import lifecycle
from scripts_engine.diagram import render_svg
from scripts_engine.editing import problems_by_node
from scripts_engine.forms import RejectForm
from scripts_engine.lifecycle import LifecycleError
from scripts_engine.models import ScriptVersion
from scripts_engine.review import graph_diff, unscoped_submitted_versions
from tenants.models import Client


def _client(slug: str) -> Client:
    client = Client.objects.companies().filter(slug=slug).first()
    if client is None:
        raise Http404("No such client company.")
    return client


@role_required(ACCOUNT_MANAGERS)
def submitted(request: HttpRequest) -> HttpResponse:
    return render(request, "backoffice/scripts.html", {"submitted": unscoped_submitted_versions()})


@role_required(ACCOUNT_MANAGERS)
def review(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    client = _client(slug)
    with tenant_context(client):
        version = get_object_or_404(ScriptVersion.objects.select_related("script", "submitted_by"), pk=pk)
        active = version.script.active_version
        others = version.script.versions.exclude(pk=version.pk).order_by("-number")
        against = active
        wanted = request.GET.get("against", "")
        if wanted.isdigit():
            against = others.filter(number=int(wanted)).first() or active
        problems = lifecycle.version_problems(graph=version.graph)
        old_name = f"v{against.number} ({against.get_state_display().lower()})" if against else "nothing"
        diff = graph_diff(
            against.graph if against else {}, version.graph, old_name=old_name, new_name=f"v{version.number}"
        )
        grouped = problems_by_node(problems)
        context = {
            "client": client,
            "version": version,
            "script": version.script,
            "active": active,
            "against": against,
            "others": others,
            "diagram": mark_safe(render_svg(version.graph, problems=grouped)),  # noqa: S308 - escaped
            "diff": diff,
            "problems": problems,
            "reject_form": RejectForm(),
            "submitted_by": version.submitted_by.get_full_name() if version.submitted_by else "",
        }
        return render(request, "backoffice/script_review.html", context)


@role_required(ACCOUNT_MANAGERS)
@require_POST
def decide(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    client = _client(slug)
    decision = request.POST.get("decision")
    with tenant_context(client):
        version = get_object_or_404(ScriptVersion.objects.select_related("script"), pk=pk)
        try:
            if decision in {"approve", "approve_activate"}:
                lifecycle.version_approve(version=version, by=request.user)
                if decision == "approve_activate":
                    lifecycle.version_activate(version=version, by=request.user)
                done = "approved and active" if decision == "approve_activate" else "approved"
                messages.success(request, f"{client.name}: {version.script.name} v{version.number} {done}.")
            elif decision == "reject":
                form = RejectForm(request.POST)
                if not form.is_valid():
                    messages.error(request, "Say why the version is rejected.")
                    return redirect("bo_script_review", slug=slug, pk=pk)
                lifecycle.version_reject(version=version, by=request.user, reason=form.cleaned_data["reason"])
                messages.success(
                    request, f"{client.name}: {version.script.name} v{version.number} sent back."
                )
            else:
                messages.error(request, "Choose approve or reject.")
                return redirect("bo_script_review", slug=slug, pk=pk)
        except LifecycleError as error:
            messages.error(request, str(error))
            return redirect("bo_script_review", slug=slug, pk=pk)
    return redirect("bo_scripts")
