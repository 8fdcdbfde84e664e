"""Certification's pages and API (R14): the quiz in the console, the quiz editors of the back
office and the portal, the supervisors' board, the client's count; bad input is a 4xx with its
reason, and no company reaches another's quiz, certificates or count."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Role
from operations import certification
from operations.models import Certification, CertificationQuiz
from reporting.keys import api_key_create
from scripts_engine import lifecycle
from scripts_engine.models import ScriptVersion
from scripts_engine.samples import load_sample
from telephony.models import Skill
from tests.conftest import http, logged_in, make_user
from tests.scripts_engine.conftest import active_script
from tests.telephony.helpers import make_operator, make_queue

QUIZ = "? Refund window?\n- 14 days\n+ 30 days\n\n? Greeting?\n+ Company name first\n- Just hello\n"


@pytest.fixture
def floor(db, tenants):
    alpha, beta = make_queue(tenants.alpha), make_queue(tenants.beta)
    operator = make_operator({alpha: 1})
    Skill.objects.filter(operator=operator).update(certified_until=None)
    certification.quiz_save(client=tenants.alpha, text=QUIZ, pass_percent=100, by_name="Ann")
    certification.quiz_save(client=tenants.beta, text=QUIZ.replace("Refund", "Beta refund"), pass_percent=50,
                            by_name="Bob")  # fmt: skip
    return operator, alpha, beta


def grant(operator, client, *, days: int) -> Certification:
    now = timezone.now()
    return certification.certification_grant(
        operator=operator, client=client, valid_until=now + dt.timedelta(days=days), now=now, reason="t"
    )


def board_of(response) -> str:
    """The certificates' table of the supervisors' page (without the events below it)."""
    return response.content.decode().split('id="certification-board"')[1].split("<h2>Quizzes")[0]


def console(operator):
    return logged_in(None, operator.user)


def test_the_operator_passes_the_quiz_in_the_console_and_the_skill_unlocks(floor, tenants):
    operator, _, _ = floor
    second = make_queue(tenants.alpha)  # two of the company's queues: one quiz, both unlocked
    Skill.objects.create(operator=operator, queue=second, tier=2)
    page = console(operator).get("/console/certification/").content.decode()
    assert "Alpha Ltd" in page and "Beta GmbH" not in page and "Take the quiz" in page
    quiz_page = console(operator).get("/console/certification/alpha/").content.decode()
    assert "Refund window?" in quiz_page and "30 days" in quiz_page
    done = console(operator).post(
        "/console/certification/alpha/", {"quiz_version": "1", "q1": "1", "q2": "0"}
    )
    assert done.status_code == 200 and "Passed: you are certified for Alpha Ltd" in done.content.decode()
    assert Skill.objects.filter(operator=operator, certified_until__gt=timezone.now()).count() == 2
    assert page.count('data-company="alpha"') == 1


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"quiz_version": "1", "q1": "1"}, 400, "Answer question 2."),
        ({"quiz_version": "1", "q1": "7", "q2": "0"}, 400, "Question 1 has no such choice."),
        (
            {"quiz_version": "1", "q1": "x", "q2": "0"},
            400,
            "The answer to question 1 is a list of choice numbers.",
        ),
        ({"quiz_version": "1", "q1": "1", "q2": "0", "q9": "0"}, 400, "There is no question 9 in this quiz."),
        # Digits Python's int() refuses ("²".isdigit() is true): a 400 with the reason, never a 500.
        (
            {"quiz_version": "1", "q1": "²", "q2": "0"},
            400,
            "The answer to question 1 is a list of choice numbers.",
        ),
        ({"quiz_version": "7", "q1": "1", "q2": "0"}, 409, "The quiz was changed since you opened it"),
    ],
)
def test_bad_answers_are_refused_with_the_reason_and_nothing_is_recorded(floor, data, status, message):
    operator, _, _ = floor
    response = console(operator).post("/console/certification/alpha/", data)
    assert response.status_code == status and message in response.content.decode()
    assert not Certification.objects.filter(operator=operator).exists()


def test_an_operator_cannot_open_the_quiz_of_a_company_they_do_not_serve(floor, tenants):
    operator, _, _ = floor
    assert console(operator).get("/console/certification/beta/").status_code == 404
    assert console(operator).post("/console/certification/beta/", {"quiz_version": "1"}).status_code == 404
    supervisor = make_user(None, role=Role.SUPERVISOR)
    assert logged_in(None, supervisor).get("/console/certification/").status_code == 403


def test_the_account_manager_writes_the_quiz_and_a_bad_text_is_refused_naming_the_line(floor, tenants):
    manager = logged_in(None, make_user(None, role=Role.ACCOUNT_MANAGER))
    url = f"/staff/operations/companies/{tenants.alpha.pk}/certification/"
    assert "Refund window?" in manager.get(url).content.decode()
    bad = manager.post(url, {"text": "? Only one\n+ a", "pass_percent": "80"})
    assert bad.status_code == 400 and "needs at least 2 choices" in bad.content.decode()
    low = manager.post(url, {"text": QUIZ, "pass_percent": "0"})
    assert low.status_code == 400
    assert manager.post(url, {"text": QUIZ + "\n? Third\n+ a\n- b", "pass_percent": "70"}).status_code == 302
    saved = CertificationQuiz.objects.get(client=tenants.alpha)
    assert (saved.version, saved.pass_percent, len(saved.questions)) == (2, 70, 3)
    operator = logged_in(None, floor[0].user)
    assert operator.get(url).status_code == 403


def test_the_supervisors_see_who_is_certified_expiring_and_failed_and_may_revoke(floor, tenants):
    operator, _, beta = floor
    now = timezone.now()
    soon = make_operator({beta: 1})
    grant(soon, tenants.beta, days=3)
    row = CertificationQuiz.objects.get(client=tenants.alpha)
    wrong = {"1": [0], "2": [0]}
    certification.attempt_submit(operator=operator, quiz_row=row, quiz_version=1, answers=wrong, now=now)
    supervisor = logged_in(None, make_user(None, role=Role.SUPERVISOR))
    board = supervisor.get("/staff/operations/certifications/").content.decode()
    assert f'data-operator="{soon.user.username}" data-company="beta" class="warning"' in board
    assert "expiring soon" in board and 'data-state="failed"' in board and 'data-kind="granted"' in board
    expiring = board_of(supervisor.get("/staff/operations/certifications/?show=expiring"))
    assert soon.user.username in expiring and operator.user.username not in expiring
    failed = board_of(supervisor.get("/staff/operations/certifications/?show=failed"))
    assert operator.user.username in failed and soon.user.username not in failed
    held = Certification.objects.get(operator=soon)
    url = f"/staff/operations/certifications/{held.pk}/revoke/"
    refused = supervisor.post(url, {"reason": " "})
    assert refused.status_code == 400 and "Say why" in refused.content.decode()
    assert supervisor.post(url, {"reason": "Complaints"}).status_code == 302
    held.refresh_from_db()
    assert held.state == "revoked" and Skill.objects.get(operator=soon).certified_until is None
    assert logged_in(None, operator.user).get("/staff/operations/certifications/").status_code == 403


def test_the_client_edits_its_own_quiz_and_sees_a_count_never_who(floor, tenants):
    operator, _, _ = floor
    timezone.now()
    grant(operator, tenants.alpha, days=9)
    editor = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_EDITOR))
    page = editor.get("/service/certification/").content.decode()
    assert '<strong id="certified-count">1</strong>' in page and "Refund window?" in page
    assert "Beta refund" not in page and operator.user.username not in page
    assert (
        editor.post("/service/certification/", {"text": "? x\n- a", "pass_percent": "80"}).status_code == 400
    )
    assert editor.post("/service/certification/", {"text": QUIZ, "pass_percent": "90"}).status_code == 302
    assert CertificationQuiz.objects.get(client=tenants.alpha).pass_percent == 90
    assert CertificationQuiz.objects.get(client=tenants.beta).pass_percent == 50  # the other's untouched
    viewer = logged_in(tenants.alpha, make_user(tenants.alpha, role=Role.CLIENT_VIEWER))
    assert viewer.post("/service/certification/", {"text": QUIZ, "pass_percent": "10"}).status_code == 403
    beta = logged_in(tenants.beta, make_user(tenants.beta, role=Role.CLIENT_ADMIN))
    beta_page = beta.get("/service/certification/").content.decode()
    assert '<strong id="certified-count">0</strong>' in beta_page and "Beta refund" in beta_page
    assert "Refund window?" not in beta_page.replace("Beta refund window?", "")


def test_the_api_gives_each_company_its_own_count(floor, tenants):
    operator, _, _ = floor
    timezone.now()
    grant(operator, tenants.alpha, days=9)
    with tenant_context(tenants.alpha):
        _, alpha_key = api_key_create(name="crm", scopes=["read_reports"])
    with tenant_context(tenants.beta):
        _, beta_key = api_key_create(name="crm", scopes=["read_reports"])
    alpha = http(tenants.alpha).get("/api/v1/certification/", HTTP_AUTHORIZATION=f"Bearer {alpha_key}")
    assert alpha.status_code == 200 and alpha.json() == {"certified_operators": 1, "valid_days": 180}
    beta = http(tenants.beta).get("/api/v1/certification/", HTTP_AUTHORIZATION=f"Bearer {beta_key}")
    assert beta.json()["certified_operators"] == 0
    crossed = http(tenants.beta).get("/api/v1/certification/", HTTP_AUTHORIZATION=f"Bearer {alpha_key}")
    assert crossed.status_code in {401, 403}
    assert http(tenants.alpha).get("/api/v1/certification/").status_code in {401, 403}
    paths = http(tenants.alpha).get("/api/v1/schema/", {"format": "json"}).json()["paths"]
    assert "/api/v1/certification/" in paths


def test_the_editor_marks_a_version_major_on_submit_and_the_account_manager_sees_it(db, tenants):
    version, editor = active_script(tenants.alpha)
    with tenant_context(tenants.alpha):
        draft = lifecycle.version_create_draft(script=version.script, graph=load_sample("hotline"), by=editor)
    portal = logged_in(tenants.alpha, editor)
    assert 'id="submit-major"' in portal.get(f"/scripts/versions/{draft.pk}/").content.decode()
    assert portal.post(f"/scripts/versions/{draft.pk}/submit/", {"major": "on"}).status_code == 302
    with tenant_context(tenants.alpha):
        assert ScriptVersion.objects.get(pk=draft.pk).major
    manager = logged_in(None, make_user(None, role=Role.ACCOUNT_MANAGER))
    review = manager.get(f"/backoffice/scripts/alpha/{draft.pk}/").content.decode()
    assert "Marked a major change" in review
