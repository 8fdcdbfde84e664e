"""Script review on the platform host: submitted versions of every client company, diff, approve."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_tenants.utils import tenant_context

from scripts_engine import lifecycle
from scripts_engine.forms import RejectForm
from scripts_engine.lifecycle import LifecycleError
from scripts_engine.models import ScriptVersion
from scripts_engine.review import graph_diff, unscoped_submitted_versions
from tenants.models import Client
from tenants.views.backoffice import account_manager_required


def _client(slug: str) -> Client:
    client = Client.objects.exclude(schema_name="public").filter(slug=slug).first()
    if client is None:
        raise Http404("No such client company.")
    return client


@account_manager_required
def submitted(request: HttpRequest) -> HttpResponse:
    return render(request, "backoffice/scripts.html", {"submitted": unscoped_submitted_versions()})


@account_manager_required
def review(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    client = _client(slug)
    with tenant_context(client):
        version = get_object_or_404(ScriptVersion.objects.select_related("script", "submitted_by"), pk=pk)
        active = version.script.active_version
        problems = lifecycle.version_problems(graph=version.graph)
        old_name = f"v{active.number} (active)" if active else "nothing active"
        diff = graph_diff(
            active.graph if active else {}, version.graph, old_name=old_name, new_name=f"v{version.number}"
        )
        context = {
            "client": client,
            "version": version,
            "script": version.script,
            "active": active,
            "diff": diff,
            "problems": problems,
            "reject_form": RejectForm(),
            "submitted_by": version.submitted_by.get_full_name() if version.submitted_by else "",
        }
        return render(request, "backoffice/script_review.html", context)


@account_manager_required
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
