"""The operator's certification pages in the console (R14): the companies whose quiz they may or
must take, and the quiz itself, scored on the server (thin: see operations.certification)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from console.views import operator_only
from operations import certification
from operations.models import CertificationQuiz
from operations.quiz import QuizError
from telephony.operators import profile_for


@require_http_methods(["GET"])
@operator_only
def certifications(request: HttpRequest) -> HttpResponse:
    operator = profile_for(request.user)
    standings = certification.operator_standings(operator=operator, now=timezone.now())
    return render(request, "certification/console_list.html", {"standings": standings})


def _answers(request: HttpRequest, count: int) -> dict[str, list[object]]:
    """``q1=0&q2=1&q2=2`` → ``{"1": [0], "2": [1, 2]}``; a value that is not a number stays as it
    is, so the scorer says which answer is wrong."""
    answers: dict[str, list[object]] = {}
    for number in range(1, count + 1):
        values = request.POST.getlist(f"q{number}")
        if values:
            answers[str(number)] = [int(v) if v.isascii() and v.isdigit() else v for v in values]
    extra = [
        k[1:]
        for k in request.POST
        if k.startswith("q") and k[1:].isascii() and k[1:].isdigit() and int(k[1:]) > count
    ]
    for number in extra:
        answers[number] = request.POST.getlist(f"q{number}")
    return answers


@require_http_methods(["GET", "POST"])
@operator_only
def take(request: HttpRequest, slug: str) -> HttpResponse:
    """The quiz of one company (only one whose skills the operator was assigned: else 404)."""
    operator = profile_for(request.user)
    try:
        quiz_row = certification.access_quiz(operator=operator, slug=slug)
    except CertificationQuiz.DoesNotExist as missing:
        raise Http404("No certification quiz of that company for you.") from missing
    now = timezone.now()
    questions = certification.questions_of(quiz_row)
    context = {"quiz": quiz_row, "questions": questions, "client": quiz_row.client}
    if request.method == "GET":
        mine = quiz_row.client.certifications.filter(operator=operator).first()
        context["standing"] = certification.standing(mine, client=quiz_row.client, now=now)
        return render(request, "certification/console_quiz.html", context)
    try:
        result, percent, passed = certification.attempt_submit(
            operator=operator, quiz_row=quiz_row, quiz_version=request.POST.get("quiz_version"),
            answers=_answers(request, len(questions)), now=now,
        )  # fmt: skip
    except QuizError as error:
        context.update(error=str(error), chosen=request.POST)
        return render(request, "certification/console_quiz.html", context, status=400)
    except certification.CertificationRefused as refused:
        context.update(error=str(refused))
        return render(request, "certification/console_quiz.html", context, status=409)
    context.update(
        result=result, percent=percent, passed=passed, in_a_row=certification.ATTEMPTS_IN_A_ROW,
        cool_down_hours=int(certification.COOL_DOWN.total_seconds() // 3600),
    )  # fmt: skip
    return render(request, "certification/console_result.html", context)
