"""Quality pages on the platform host (supervisors and platform admins): pick a client company,
then its recordings, its scorecard, scoring a call, and the operators' scores over time.

Every page of a company runs inside that company's schema (``tenant_context``) from the first
query to the rendered page, so nothing of another company can show up on it.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Avg, Count, Exists, OuterRef, Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from django_tenants.utils import tenant_context

from accounts.permissions import OPERATORS, SUPERVISORS, require
from quality.forms import CriterionFormSet, RecordingFilter
from quality.models import Score
from quality.scoring import (
    CriterionSpec,
    MarkInput,
    check_score_call,
    current_scorecard,
    operator_weekly_scores,
    scorecard_save,
)
from reporting.periods import PeriodForm
from telephony import supervision
from telephony.calls.models import Call, RecordingAccess, TelephonySettings
from telephony.recording_access import Listener, serve_recording
from tenants.models import Client

PAGE_SIZE = 50
OPERATOR_PERIOD_DAYS = 8 * 7 + 1  # by default the operators' page shows eight weeks back to today


def _tz() -> dt.tzinfo:
    """The company's time zone (its telephony settings), read in its schema."""
    name = TelephonySettings.objects.values_list("timezone", flat=True).first() or "UTC"
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def supervisor_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Platform host, supervisors and platform admins only (anyone else: login or 403)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.tenant.is_platform:
            raise Http404
        require(SUPERVISORS, request.user)
        return view(request, *args, **kwargs)

    return wrapper


def in_company(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``view(request, company, …)`` inside the schema of the company named by ``slug``."""

    @supervisor_only
    @wraps(view)
    def wrapper(request: HttpRequest, slug: str, *args, **kwargs) -> HttpResponse:
        company = get_object_or_404(Client.objects.companies(), slug=slug)
        with tenant_context(company), timezone.override(_tz()):
            return view(request, company, *args, **kwargs)

    return wrapper


@supervisor_only
def companies(request: HttpRequest) -> HttpResponse:
    clients = Client.objects.companies().exclude(status=Client.Status.PROSPECT)
    return render(request, "quality/companies.html", {"clients": clients})


def _recorded_calls():
    return Call.objects.exclude(recording_sid="")


@in_company
def recordings(request: HttpRequest, company: Client) -> HttpResponse:
    calls = _recorded_calls()
    operators = sorted(
        {
            (i, n or f"#{i}")
            for i, n in calls.exclude(operator_id=None).values_list("operator_id", "operator_name").distinct()
        },
        key=lambda o: o[1].lower(),
    )
    queues = sorted(
        {
            (i, n or f"#{i}")
            for i, n in calls.exclude(queue_id=None).values_list("queue_id", "queue_name").distinct()
        },
        key=lambda q: q[1].lower(),
    )
    form = RecordingFilter(request.GET or None, operators=operators, queues=queues)
    status = 200
    if form.is_bound and not form.is_valid():
        status = 400
        calls = calls.none()
    elif form.is_bound:
        f = form.cleaned_data
        tz = timezone.get_current_timezone()
        if f["operator"] is not None:
            calls = calls.filter(operator_id=f["operator"])
        if f["queue"] is not None:
            calls = calls.filter(queue_id=f["queue"])
        if f["start"]:
            calls = calls.filter(started_at__gte=dt.datetime.combine(f["start"], dt.time.min, tzinfo=tz))
        if f["end"]:
            end = dt.datetime.combine(f["end"] + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
            calls = calls.filter(started_at__lt=end)
        if f["scored"] == "yes":
            calls = calls.filter(Exists(Score.objects.filter(call=OuterRef("pk"))))
        elif f["scored"] == "no":
            calls = calls.exclude(Exists(Score.objects.filter(call=OuterRef("pk"))))
    latest_first = Score.objects.select_related("version").order_by("-version__number")
    calls = calls.select_related("contact").prefetch_related(
        Prefetch("quality_scores", queryset=latest_first)
    )
    page = Paginator(calls.order_by("-started_at"), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "company": company,
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "tab": "recordings",
    }
    for call in page.object_list:
        scores = list(call.quality_scores.all())
        call.latest_score = scores[0] if scores else None
    return render(request, "quality/recordings.html", context, status=status)


@in_company
def audio(request: HttpRequest, company: Client, call_id: int) -> HttpResponse:
    call = get_object_or_404(_recorded_calls(), pk=call_id)
    # Platform staff hearing a company's call: logged in that company's own access log.
    listener = Listener.of(request.user, platform_staff=True)
    return serve_recording(
        call=call, request=request, surface=RecordingAccess.Surface.QUALITY, listener=listener
    )


def _marks_from_post(request: HttpRequest, criteria) -> tuple[dict[int, MarkInput], list[str]]:
    marks, errors = {}, []
    for criterion in criteria:
        raw = request.POST.get(f"points-{criterion.pk}", "").strip()
        comment = request.POST.get(f"comment-{criterion.pk}", "").strip()
        if raw == "":
            errors.append(f"“{criterion.name}”: give a mark.")
            continue
        try:
            marks[criterion.pk] = MarkInput(points=int(raw), comment=comment)
        except ValueError:
            errors.append(f"“{criterion.name}”: the mark must be a whole number.")
    return marks, errors


@in_company
@require_http_methods(["GET", "POST"])
def score(request: HttpRequest, company: Client, call_id: int) -> HttpResponse:
    """A recorded call with its player, its scores, and the form to score it with the current scorecard."""
    call = get_object_or_404(_recorded_calls().select_related("contact"), pk=call_id)
    scorecard = current_scorecard()
    criteria = list(scorecard.criteria.all()) if scorecard else []
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        try:
            version_id = int(request.POST.get("version", ""))
        except ValueError:
            version_id = 0
        if any("\x00" in value for value in request.POST.values()):  # PostgreSQL text can't hold it
            marks, errors = {}, ["Remove the NUL characters from the marks and comments."]
        elif scorecard is not None and version_id != scorecard.pk:
            marks, errors = {}, ["The scorecard changed while you were scoring: reload and score again."]
        else:
            marks, errors = _marks_from_post(request, criteria)
        if not errors:
            try:
                check_score_call(
                    call=call,
                    version_id=version_id,
                    marks=marks,
                    comment=request.POST.get("comment", "").strip(),
                    scorer_id=request.user.pk,
                    scorer_name=request.user.get_full_name() or request.user.username,
                )
            except ValidationError as refused:
                errors = refused.messages
        if not errors:
            messages.success(request, "Score saved.")
            return redirect("quality_score", slug=company.slug, call_id=call.pk)
        status = 400
    scores = list(call.quality_scores.select_related("version").prefetch_related("marks__criterion"))
    current = next((s for s in scores if scorecard and s.version_id == scorecard.pk), None)
    given = {m.criterion_id: m for m in current.marks.all()} if current else {}
    rows = []
    for criterion in criteria:
        mark = given.get(criterion.pk)
        rows.append(
            {
                "criterion": criterion,
                "points": request.POST.get(f"points-{criterion.pk}", mark.points if mark else ""),
                "comment": request.POST.get(f"comment-{criterion.pk}", mark.comment if mark else ""),
            }
        )
    context = {
        "company": company,
        "call": call,
        "scorecard": scorecard,
        "rows": rows,
        "scores": scores,
        "current": current,
        "comment": request.POST.get("comment", current.comment if current else ""),
        "errors": errors,
        "tab": "recordings",
        "supervision": supervision.events_of(call),
    }
    return render(request, "quality/score.html", context, status=status)


@in_company
@require_http_methods(["GET", "POST"])
def scorecard(request: HttpRequest, company: Client) -> HttpResponse:
    """The company's scorecard: edited in place until used, then saved as the next version."""
    version = current_scorecard()
    initial = [
        {"name": c.name, "help": c.help, "kind": c.kind, "max_points": c.max_points, "weight": c.weight}
        for c in (version.criteria.all() if version else [])
    ]
    # Initial rows only for showing: a posted row equal to its initial one must still count.
    if request.method == "POST":
        formset = CriterionFormSet(request.POST, prefix="c")
    else:
        formset = CriterionFormSet(initial=initial, prefix="c")
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        if formset.is_valid():
            specs = [
                CriterionSpec(
                    name=f["name"],
                    kind=f["kind"],
                    max_points=f["max_points"],
                    weight=f["weight"],
                    help=f["help"],
                )
                for f in formset.cleaned_data
                if f and f.get("name", "").strip()
            ]
            try:
                saved = scorecard_save(
                    criteria=specs, by=request.user.get_full_name() or request.user.username
                )
            except ValidationError as refused:
                errors = refused.messages
            else:
                if version is not None and saved.pk != version.pk:
                    messages.success(
                        request,
                        f"Saved as version {saved.number}: scores given with earlier versions keep theirs.",
                    )
                else:
                    messages.success(request, f"Scorecard version {saved.number} saved.")
                return redirect("quality_scorecard", slug=company.slug)
        else:
            errors = ["Some criteria need fixing: see below.", *formset.non_form_errors()]
        status = 400
    context = {
        "company": company,
        "version": version,
        "in_use": version.in_use if version else False,
        "formset": formset,
        "errors": errors,
        "tab": "scorecard",
    }
    return render(request, "quality/scorecard.html", context, status=status)


@in_company
def operators(request: HttpRequest, company: Client) -> HttpResponse:
    """Per operator, the weekly average score and number of scored calls over a chosen period."""
    form = PeriodForm.from_query(request.GET, today=timezone.localdate(), days=OPERATOR_PERIOD_DAYS)
    status = 200
    weeks, trends = [], []
    if not form.is_valid():
        status = 400
    else:
        period = form.cleaned_data
        weeks, trends = operator_weekly_scores(
            since=period["start"], until=period["end"], tz=timezone.get_current_timezone()
        )
    table = [{"trend": t, "cells": [(week, *t.weeks.get(week, (None, 0))) for week in weeks]} for t in trends]
    context = {"company": company, "form": form, "weeks": weeks, "table": table, "tab": "operators"}
    return render(request, "quality/operators.html", context, status=status)


OWN_SCORES_SHOWN = 20


@login_required
def my_scores(request: HttpRequest) -> HttpResponse:
    """An operator's own scores, per company whose queues they work, with the scorers' comments.

    Reads one schema per such company (the operator's skills say which), never anyone else's scores.
    """
    if not request.tenant.is_platform:
        raise Http404
    require(OPERATORS, request.user)
    companies = Client.objects.filter(queues__skills__operator__user=request.user).distinct().order_by("name")
    sections = []
    for company in companies:
        with tenant_context(company), timezone.override(_tz()):
            mine = Score.objects.filter(operator_id=request.user.pk)
            totals = mine.aggregate(average=Avg("percent"), count=Count("id"))
            recent = list(
                mine.select_related("version", "call")
                .prefetch_related("marks__criterion")
                .order_by("-scored_at")[:OWN_SCORES_SHOWN]
            )
            sections.append({"company": company, "recent": recent, **totals})
    return render(request, "quality/my_scores.html", {"sections": sections})
