"""The browser test-run: a ScriptSession of kind test, driven exactly as the operator console would."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from scripts_engine import sessions
from scripts_engine.editing import contact_fields
from scripts_engine.interpreter import InvalidScript
from scripts_engine.models import ScriptSession, Specialist
from scripts_engine.sessions import SessionError
from scripts_engine.views.access import access_test_session, access_version


@login_required
@require_POST
def testrun_start(request: HttpRequest, pk: int) -> HttpResponse:
    version = access_version(request, pk)
    fields = contact_fields(version.graph)
    contact = {f: request.POST.get(f"contact_{f}", "") for f in fields if isinstance(f, str)}
    try:
        session = sessions.session_start(
            script=version.script,
            version=version,
            kind=ScriptSession.Kind.TEST,
            contact=contact,
            by_name=request.user.get_full_name() or request.user.username,
        )
    except InvalidScript:
        messages.error(request, "This version has problems to fix before it can be test-run.")
        return redirect("script_version", pk=pk)
    except SessionError as error:
        messages.error(request, str(error))
        return redirect("script_version", pk=pk)
    return redirect("script_testrun", pk=session.pk)


def shown_value(value: object) -> str:
    """An answer as the operator reads it: yes/no, lists with commas, "(no input)" for nothing."""
    if value is None:
        return "(no input)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _raw_answer(request: HttpRequest, step_question: dict | None) -> object:
    if step_question and step_question.get("type") == "multi_choice":
        return request.POST.getlist("answer")
    return request.POST.get("answer", "")


@login_required
@require_http_methods(["GET", "POST"])
def testrun(request: HttpRequest, pk: int) -> HttpResponse:
    session = access_test_session(request, pk)
    error = None
    submitted = None
    if request.method == "POST":
        action = request.POST.get("action")
        node_id = request.POST.get("node", "")[:64]
        by = request.user.get_full_name() or request.user.username
        if action == "back":
            sessions.session_back(session=session)
            return redirect("script_testrun", pk=pk)
        current = sessions.session_step(session=session).as_dict()
        if action == "answer":
            submitted = _raw_answer(request, current.get("question"))
            step, error = sessions.session_answer(session=session, node_id=node_id, raw=submitted, by_name=by)
        elif action == "no_input":
            step, error = sessions.session_answer(session=session, node_id=node_id, raw=None, by_name=by)
        else:
            step, error = sessions.session_ack(session=session, node_id=node_id)
        if error is None:
            return redirect("script_testrun", pk=pk)
    step = sessions.session_step(session=session)
    log = [(a.node_id, shown_value(a.value), a.answered_at) for a in session.answer_log.all()]
    context = {
        "session": session,
        "version": session.version,
        "script": session.version.script,
        "step": step.as_dict(),
        "error": error,
        "submitted": submitted if isinstance(submitted, str) else None,
        "submitted_list": submitted if isinstance(submitted, list) else [],
        "log": log,
        "specialist": Specialist.objects.filter(key=step.specialist).first() if step.specialist else None,
        "contact": {
            f: session.contact[f] for f in contact_fields(session.version.graph) if f in session.contact
        },
    }
    return render(request, "scripts/testrun.html", context, status=200)
