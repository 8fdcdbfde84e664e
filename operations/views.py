"""Operations pages on the platform host (supervisors, account managers, platform admins):
operators with their skills, languages and shifts; who serves which company; a team's grant of a
company's queue. Thin: each action calls one function of ``operations.skills`` or ``.shifts``."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.permissions import BACK_OFFICE, PLATFORM_STAFF, role_required
from operations import callbacks, roster, shifts, skills
from operations.forms import OperatorLanguagesForm, ShiftForm, SkillForm, TeamGrantForm
from operations.models import Shift
from telephony.models import OperatorProfile, Queue, Skill
from tenants.audit import events_for
from tenants.models import Client


@role_required(BACK_OFFICE)
def operators(request: HttpRequest) -> HttpResponse:
    context = {"operators": roster.operators_with_skills(), "teams": roster.teams()}
    return render(request, "operations/operators.html", context)


def _operator_page(
    request: HttpRequest, operator: OperatorProfile, *, status: int = 200, **forms_: forms.Form
) -> HttpResponse:
    context = {
        "operator": operator,
        "skills": Skill.objects.filter(operator=operator).select_related("queue__tenant"),
        "shifts": roster.shifts_of(operator),
        "languages_form": forms_.get("languages_form")
        or OperatorLanguagesForm(initial={"languages": ", ".join(operator.languages)}),
        "skill_form": forms_.get("skill_form") or SkillForm(),
        "shift_form": forms_.get("shift_form") or ShiftForm(),
        "events": events_for(operator)[:30],
        "now": timezone.now(),
    }
    return render(request, "operations/operator.html", context, status=status)


def _operator(pk: int) -> OperatorProfile:
    return get_object_or_404(OperatorProfile.objects.select_related("user"), pk=pk)


@role_required(BACK_OFFICE)
def operator_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _operator_page(request, _operator(pk))


def _refused(form: forms.Form, error: ValidationError) -> None:
    form.add_error(None, error)


@require_POST
@role_required(BACK_OFFICE)
def operator_languages(request: HttpRequest, pk: int) -> HttpResponse:
    operator = _operator(pk)
    form = OperatorLanguagesForm(request.POST)
    if not form.is_valid():
        return _operator_page(request, operator, status=400, languages_form=form)
    skills.operator_languages_set(
        operator=operator, languages=form.cleaned_data["languages"], by=request.user
    )
    messages.success(request, "Languages saved.")
    return redirect("ops_operator", pk=pk)


@require_POST
@role_required(BACK_OFFICE)
def operator_skill(request: HttpRequest, pk: int) -> HttpResponse:
    operator = _operator(pk)
    form = SkillForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            skills.skill_set(
                operator=operator, queue=data["queue"], tier=data["tier"], languages=data["languages"],
                by=request.user,
            )  # fmt: skip
        except ValidationError as error:
            _refused(form, error)
        else:
            messages.success(
                request, f"{data['queue'].tenant.name} · {data['queue'].name}: tier {data['tier']}."
            )
            return redirect("ops_operator", pk=pk)
    return _operator_page(request, operator, status=400, skill_form=form)


@require_POST
@role_required(BACK_OFFICE)
def operator_skill_remove(request: HttpRequest, pk: int, queue_pk: int) -> HttpResponse:
    operator = _operator(pk)
    queue = get_object_or_404(Queue.objects.select_related("tenant"), pk=queue_pk)
    if skills.skill_remove(operator=operator, queue=queue, by=request.user):
        messages.success(request, f"{queue.tenant.name} · {queue.name} removed.")
    return redirect("ops_operator", pk=pk)


@require_POST
@role_required(BACK_OFFICE)
def operator_shift(request: HttpRequest, pk: int) -> HttpResponse:
    operator = _operator(pk)
    form = ShiftForm(request.POST)
    if form.is_valid():
        try:
            shifts.shift_add(operator=operator, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            _refused(form, error)
        else:
            messages.success(request, "Shift planned.")
            return redirect("ops_operator", pk=pk)
    return _operator_page(request, operator, status=400, shift_form=form)


@require_POST
@role_required(BACK_OFFICE)
def operator_shift_remove(request: HttpRequest, pk: int, shift_pk: int) -> HttpResponse:
    shift = get_object_or_404(Shift, pk=shift_pk, operator_id=pk)
    shifts.shift_remove(shift=shift, by=request.user)
    messages.success(request, "Shift removed.")
    return redirect("ops_operator", pk=pk)


@role_required(BACK_OFFICE)
def company_team(request: HttpRequest, pk: int) -> HttpResponse:
    """Who serves this company, and the grant of one of its queues to a team (a provisioning step)."""
    company = get_object_or_404(Client.objects.companies(), pk=pk)
    form = TeamGrantForm(request.POST or None, company=company)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                added = skills.skills_grant(
                    operators=data["operators"], queue=data["queue"], tier=data["tier"], by=request.user
                )
            except ValidationError as error:
                _refused(form, error)
            else:
                messages.success(
                    request, f"{added} operator(s) now serve {company.name} · {data['queue'].name}."
                )
                return redirect("ops_company", pk=pk)
        status = 400
    teams = roster.teams([company])
    context = {"company": company, "team": teams[0] if teams else None, "form": form}
    return render(request, "operations/company.html", context, status=status)


@role_required(PLATFORM_STAFF)
def callback_board(request: HttpRequest) -> HttpResponse:
    """Callbacks due within the hour or being called, per company: supervisors and account
    managers see every company's; an operator those of the queues they have skills for."""
    queue_ids = None
    if not BACK_OFFICE.allows(request.user):
        queue_ids = set(Skill.objects.filter(operator__user=request.user).values_list("queue_id", flat=True))
    companies = callbacks.unscoped_due_callbacks(queue_ids=queue_ids)
    return render(request, "operations/callback_board.html", {"companies": companies})
