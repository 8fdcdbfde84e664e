"""Certification pages (R14): the quiz of a company, written by its account manager on the platform
host or by its admins and editors in the portal; the supervisors' page of who is certified for
whom; the portal's count. Thin: each action calls one function of ``operations.certification``."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_tenants.utils import tenant_context

from accounts.permissions import BACK_OFFICE, CLIENT_EDITORS, CLIENT_STAFF, require, role_required
from operations import certification, quiz
from operations.models import Certification, CertificationEvent, CertificationQuiz
from scripts_engine.models import ScriptVersion
from tenants.models import Client

State = Certification.State


class QuizForm(forms.Form):
    text = forms.CharField(
        label="Questions",
        max_length=50_000,
        widget=forms.Textarea(attrs={"rows": 18}),
        help_text="“? ” starts a question, “+ ” a right choice, “- ” a wrong one; blank lines between them.",
    )
    pass_percent = forms.IntegerField(label="Pass mark (%)", min_value=1, max_value=100, initial=80)


def _script_questions() -> str:
    """The active script's choice questions in the quiz format (in the current schema)."""
    active = ScriptVersion.objects.filter(state=ScriptVersion.State.ACTIVE).order_by("-activated_at").first()
    return quiz.from_script(active.graph) if active else ""


def _quiz_page(
    request: HttpRequest, *, client: Client, template: str, may_edit: bool, script_text: str, extra: dict
) -> HttpResponse:
    current = CertificationQuiz.objects.filter(client=client).first()
    initial = {"text": current.text, "pass_percent": current.pass_percent} if current else {}
    form = QuizForm(request.POST if request.method == "POST" else None, initial=initial)
    status = 200
    if request.method == "POST":
        if not may_edit:
            return HttpResponse("Only your company's admins and editors may change the quiz.", status=403)
        if form.is_valid():
            try:
                data = form.cleaned_data
                certification.quiz_save(
                    client=client, text=data["text"], pass_percent=data["pass_percent"],
                    by_name=request.user.get_full_name() or request.user.get_username(),
                )  # fmt: skip
            except quiz.QuizError as error:
                form.add_error("text", str(error))
            else:
                messages.success(request, "The quiz is saved; the next attempts use it.")
                return redirect(request.path)
        status = 400
    now = timezone.now()
    context = {
        "client": client, "quiz": current, "form": form, "may_edit": may_edit, "script_text": script_text,
        "certified": certification.certified_count(client=client, now=now),
        "valid_days": certification.valid_days(client), **extra,
    }  # fmt: skip
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
@role_required(BACK_OFFICE)
def backoffice_quiz(request: HttpRequest, pk: int) -> HttpResponse:
    """The account manager's page of a company's quiz (the script's questions read in its schema)."""
    client = get_object_or_404(Client.objects.companies(), pk=pk)
    with tenant_context(client):
        script_text = _script_questions()
    return _quiz_page(
        request, client=client, template="certification/backoffice_quiz.html", may_edit=True,
        script_text=script_text, extra={},
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
@login_required
def portal_quiz(request: HttpRequest) -> HttpResponse:
    """The company's own quiz page and how many certified operators serve it (a count, not who)."""
    require(CLIENT_STAFF, request.user)
    return _quiz_page(
        request, client=request.tenant, template="certification/portal_quiz.html",
        may_edit=CLIENT_EDITORS.allows(request.user), script_text=_script_questions(), extra={},
    )  # fmt: skip


FILTERS = {
    "certified": Q(state=State.CERTIFIED),
    "expiring": None,  # certification.expiring_soon(now)
    "failed": Q(state=State.FAILED) | Q(failed_attempts__gt=0),
    "ended": Q(state__in=[State.EXPIRED, State.VOIDED, State.REVOKED]),
}


@require_http_methods(["GET"])
@role_required(BACK_OFFICE)
def supervisor_board(request: HttpRequest) -> HttpResponse:
    """Who is certified for whom, who expires soon, who failed; the latest events."""
    now = timezone.now()
    rows = Certification.objects.select_related("operator__user", "client").order_by(
        "client__name", "operator_id"
    )
    shown = request.GET.get("show", "")
    if shown == "expiring":
        rows = rows.filter(certification.expiring_soon(now))
    elif shown in FILTERS:
        rows = rows.filter(FILTERS[shown])
    context = {
        "rows": rows[:500], "shown": shown, "now": now,
        "soon": now + certification.EXPIRING_SOON,
        "expiring": Certification.objects.filter(certification.expiring_soon(now)).count(),
        "events": CertificationEvent.objects.select_related("operator__user", "client")[:50],
        "quizzes": Client.objects.companies().order_by("name")
        .values("pk", "name", "certification_quiz__version"),
    }  # fmt: skip
    return render(request, "certification/board.html", context)


@require_POST
@role_required(BACK_OFFICE)
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    held = get_object_or_404(Certification, pk=pk)
    try:
        certification.certification_revoke(
            certification=held, by=request.user.get_full_name() or request.user.get_username(),
            reason=request.POST.get("reason", ""), now=timezone.now(),
        )  # fmt: skip
    except certification.CertificationRefused as refused:
        return HttpResponse(str(refused), status=400, content_type="text/plain; charset=utf-8")
    messages.success(request, "Certificate revoked: the operator no longer gets that company's calls.")
    return redirect("ops_certifications")
