"""Certification per client company (R14): the quiz format, server-side scoring, passes that
unlock the company's skills for the contract's days, failures and the retake rule, voiding by a
major script version, expiry recorded by the periodic task, events for each."""

from __future__ import annotations

import datetime as dt
import re
from functools import partial

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Role
from operations import certification, quiz, skills, tasks
from operations.models import Certification, CertificationEvent
from scripts_engine import lifecycle
from scripts_engine.samples import load_sample
from telephony.models import Skill, certified_skills
from tests.conftest import make_user
from tests.reporting.factories import contract_in_force
from tests.scripts_engine.conftest import active_script
from tests.telephony.helpers import make_operator, make_queue

QUIZ = """
? Refund window?
- 14 days
+ 30 days

? Which two identify the caller?
+ Customer number
+ Postcode
- Phone number
"""
RIGHT = {"1": [1], "2": [0, 1]}
WRONG = {"1": [0], "2": [0]}
NOW = timezone.now().replace(microsecond=0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Write at least one question"),
        ("- 30 days", "Line 1: a choice before any question"),
        ("? Q\n+ only one", "Line 1: the question “Q” needs at least 2 choices"),
        ("? Q\n- a\n- b", "Line 1: mark at least one choice of “Q” correct with +"),
        ("? Q\n+ a\n* b", "Line 3: start it with ?"),
        ("? Q\n+ a\n- a", "Line 3: “a” is a choice of this question already"),
        ("?\n+ a", "Line 1: the text after “?” is empty"),
    ],
)
def test_a_bad_quiz_text_is_refused_naming_the_line(text, message):
    with pytest.raises(quiz.QuizError, match=re.escape(message)):
        quiz.parse(text)


def test_a_question_counts_only_when_exactly_its_correct_choices_are_picked():
    questions = quiz.parse(QUIZ)
    assert [q.correct for q in questions] == [frozenset({1}), frozenset({0, 1})]
    assert quiz.score(questions, quiz.answers_parse(RIGHT, questions)) == 100
    assert quiz.score(questions, quiz.answers_parse({"1": [1], "2": [0]}, questions)) == 50
    assert quiz.score(questions, quiz.answers_parse({"1": [1], "2": [0, 1, 2]}, questions)) == 50
    three = quiz.parse("? a\n+ x\n- y\n? b\n+ x\n- y\n? c\n+ x\n- y")
    assert quiz.score(three, [frozenset({0}), frozenset({0}), frozenset({1})]) == 66  # rounded down


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ([1, 2], "an object"),
        ({"1": [1]}, "Answer question 2"),
        ({"1": [1], "2": []}, "Answer question 2"),
        ({"1": [5], "2": [0]}, "Question 1 has no such choice"),
        ({"1": ["x"], "2": [0]}, "question 1 is a list of choice numbers"),
        ({"1": [True], "2": [0]}, "question 1 is a list of choice numbers"),
        ({"1": [1], "2": [0], "9": [0]}, "no question 9"),
    ],
)
def test_malformed_answers_are_refused_with_the_reason(answers, message):
    with pytest.raises(quiz.QuizError, match=message):
        quiz.answers_parse(answers, quiz.parse(QUIZ))


def test_the_script_questions_are_offered_as_a_start(db):
    graph = {"nodes": {
        "topic": {"kind": "question", "type": "choice", "text": "Topic?", "options": ["returns", "billing"]},
        "name": {"kind": "question", "type": "text", "text": "Name?"},
    }}  # fmt: skip
    assert quiz.from_script(graph) == "? Topic?\n- returns\n- billing"


@pytest.fixture
def setup(db, tenants):
    queue = make_queue(tenants.alpha)
    operator = make_operator({queue: 2})
    Skill.objects.filter(operator=operator).update(certified_until=None)  # assigned, not certified
    row = certification.quiz_save(client=tenants.alpha, text=QUIZ, pass_percent=100, by_name="Ann")
    return queue, operator, row


def attempt(operator, row, answers, now=NOW, version=None):
    return certification.attempt_submit(
        operator=operator, quiz_row=row, quiz_version=version or row.version, answers=answers, now=now
    )


def test_a_pass_certifies_for_the_contract_days_and_unlocks_the_skills(setup, tenants):
    queue, operator, row = setup
    contract_in_force(tenants.alpha, tariffs=[], certification_valid_days=30)
    held, percent, passed = attempt(operator, row, RIGHT)
    assert (percent, passed, held.state) == (100, True, "certified")
    assert held.valid_until == NOW + dt.timedelta(days=30)
    assert Skill.objects.get(operator=operator, queue=queue).certified_until == held.valid_until
    event = CertificationEvent.objects.get(operator=operator)
    assert (event.kind, event.score_percent, event.quiz_version) == ("granted", 100, 1)
    assert certification.certified_count(client=tenants.alpha, now=NOW) == 1
    assert certification.certified_count(client=tenants.beta, now=NOW) == 0


def test_failures_are_recorded_and_the_fourth_try_waits_a_day(setup):
    _, operator, row = setup
    for n in range(1, 4):
        held, percent, passed = attempt(operator, row, WRONG, now=NOW + dt.timedelta(minutes=n))
        assert (passed, held.state, held.failed_attempts, percent) == (False, "failed", n, 0)
    assert Skill.objects.get(operator=operator).certified_until is None
    with pytest.raises(certification.CertificationRefused, match="3 failed attempts in a row: try again"):
        attempt(operator, row, RIGHT, now=NOW + dt.timedelta(hours=2))
    held, _, passed = attempt(operator, row, RIGHT, now=NOW + dt.timedelta(hours=25))
    assert passed and held.failed_attempts == 0
    assert list(CertificationEvent.objects.order_by("at").values_list("kind", flat=True)) == [
        "failed", "failed", "failed", "granted",
    ]  # fmt: skip


def test_a_certified_operator_renews_only_near_expiry_and_a_failed_renewal_keeps_the_certificate(setup):
    _, operator, row = setup
    held, _, _ = attempt(operator, row, RIGHT)
    with pytest.raises(certification.CertificationRefused, match="Certified until"):
        attempt(operator, row, RIGHT, now=NOW + dt.timedelta(days=1))
    near = held.valid_until - dt.timedelta(days=3)
    held, _, passed = attempt(operator, row, WRONG, now=near)
    assert not passed and held.state == "certified" and held.failed_attempts == 1


def test_an_attempt_on_an_outdated_quiz_is_refused(setup, tenants):
    _, operator, row = setup
    longer = QUIZ + "\n? New\n+ a\n- b"
    certification.quiz_save(client=tenants.alpha, text=longer, pass_percent=100, by_name="A")
    with pytest.raises(certification.CertificationRefused, match="quiz was changed"):
        attempt(operator, row, RIGHT, version=1)
    assert not Certification.objects.exists()


def test_expiry_takes_effect_by_date_and_the_task_records_it_once(setup):
    _, operator, row = setup
    held, _, _ = attempt(operator, row, RIGHT, now=NOW - dt.timedelta(days=200))  # 180 days by default
    assert held.valid_until < timezone.now()
    assert not Skill.objects.filter(certified_skills(timezone.now()), operator=operator).exists()
    assert tasks.certifications_expire() == 1
    assert tasks.certifications_expire() == 0
    held.refresh_from_db()
    assert held.state == "expired"
    assert CertificationEvent.objects.filter(operator=operator, kind="expired").count() == 1


def test_a_major_script_version_going_live_voids_the_company_certificates_only(
    setup, tenants, django_capture_on_commit_callbacks
):
    commit = partial(django_capture_on_commit_callbacks, execute=True)
    _, operator, row = setup
    other = make_operator({make_queue(tenants.beta): 1})
    attempt(operator, row, RIGHT)
    beta_row = certification.quiz_save(client=tenants.beta, text=QUIZ, pass_percent=50, by_name="B")
    attempt(other, beta_row, RIGHT)
    with commit():  # v1 goes live: not marked major
        minor, editor = active_script(tenants.alpha)
    assert Certification.objects.get(operator=operator).state == "certified"
    manager = make_user(None, role=Role.ACCOUNT_MANAGER)
    with tenant_context(tenants.alpha):
        major = lifecycle.version_create_draft(script=minor.script, graph=load_sample("hotline"), by=editor)
        lifecycle.version_submit(version=major, by=editor, major=True)
        lifecycle.version_approve(version=major, by=manager)
        with commit():
            lifecycle.version_activate(version=major, by=manager)
    voided = Certification.objects.get(operator=operator)
    assert (voided.state, voided.valid_until) == ("voided", None)
    assert Skill.objects.get(operator=operator).certified_until is None
    assert "Script version 2" in CertificationEvent.objects.get(operator=operator, kind="voided").reason
    assert Certification.objects.get(operator=other).state == "certified"  # another company's: kept


def test_a_skill_assigned_later_follows_the_certificate(setup, tenants):
    queue, operator, row = setup
    second = make_queue(tenants.alpha)
    newcomer = make_operator()
    skills.skill_set(operator=newcomer, queue=queue, tier=1, languages=[], by=None)
    assert Skill.objects.get(operator=newcomer).certified_until is None  # locked: not certified
    held, _, _ = attempt(operator, row, RIGHT)
    skills.skills_grant(operators=[operator], queue=second, tier=1, by=None)
    assert Skill.objects.get(operator=operator, queue=second).certified_until == held.valid_until
