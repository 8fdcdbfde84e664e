"""Operators certified per client company (R14): the quiz, attempts, certificates and the skills
they unlock.

An account manager assigns an operator skills on a company's queues as before; the router uses
them only while the operator holds a valid certificate for that company
(``telephony.Skill.certified_until``, the same date as ``Certification.valid_until``). A pass
(score ≥ the quiz's pass mark) certifies for the contract's ``certification_valid_days``; expiry
takes effect by date in the router, and ``certifications_expire`` (periodic) records the event.
A major script version going live voids every certificate of the company; a supervisor may
revoke one. Every grant, failure, expiry, voiding and revocation is a ``CertificationEvent``.

Retakes: after a failure the operator may try again at once, up to ``ATTEMPTS_IN_A_ROW`` failures
in a row; after that, ``COOL_DOWN`` after the last attempt. A certified operator may renew (take
the quiz again) from ``EXPIRING_SOON`` before expiry; a failed renewal leaves the certificate
valid until its date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from config.celery import send_after_commit
from operations import quiz
from operations.models import Certification, CertificationEvent, CertificationQuiz
from telephony.models import OperatorProfile, Skill
from telephony.tasks import match_queues
from tenants.contracts import DEFAULT_CERTIFICATION_VALID_DAYS
from tenants.models import Client, Contract

ATTEMPTS_IN_A_ROW = 3
COOL_DOWN = dt.timedelta(hours=24)
EXPIRING_SOON = dt.timedelta(days=14)
State = Certification.State
Kind = CertificationEvent.Kind


class CertificationRefused(Exception):
    """The attempt or change is not allowed now; the message says why (shown to the person)."""


def valid_days(client: Client) -> int:
    """How long a pass is valid: the contract in force's ``certification_valid_days``."""
    contract = (
        Contract.objects.filter(client=client, in_force__isnull=False).select_related("in_force").first()
    )
    terms = contract.in_force.terms if contract else {}
    return int(terms.get("certification_valid_days") or DEFAULT_CERTIFICATION_VALID_DAYS)


def quiz_save(*, client: Client, text: str, pass_percent: Any, by_name: str) -> CertificationQuiz:
    """Write the company's quiz (a new version when it changed); ``quiz.QuizError`` if it is not valid.
    Certificates stay valid: a new quiz applies to the next attempt."""
    questions = quiz.parse(text)
    percent = quiz.check_pass_percent(pass_percent)
    with transaction.atomic():
        current = CertificationQuiz.objects.select_for_update().filter(client=client).first()
        stored = [q.as_json() for q in questions]
        if current is None:
            return CertificationQuiz.objects.create(
                client=client, text=text, questions=stored, pass_percent=percent,
                updated_at=timezone.now(), updated_by_name=by_name,
            )  # fmt: skip
        scored_differently = current.questions != stored or current.pass_percent != percent
        if scored_differently or current.text != text:
            current.version += 1 if scored_differently else 0
            current.text, current.questions, current.pass_percent = text, stored, percent
            current.updated_at, current.updated_by_name = timezone.now(), by_name
            current.save()
    return current


def questions_of(quiz_row: CertificationQuiz) -> list[quiz.Question]:
    return [quiz.Question.from_json(q) for q in quiz_row.questions]


@dataclass(frozen=True)
class Standing:
    """An operator's place with one company: what the console shows."""

    client: Client
    certification: Certification | None
    may_take: bool
    why_not: str


def standing(certification: Certification | None, *, client: Client, now: dt.datetime) -> Standing:
    """Whether the operator may take the company's quiz now (the retake rule), and why not."""
    if certification is None:
        return Standing(client, None, True, "")
    if certification.state == State.CERTIFIED and certification.valid_until > now + EXPIRING_SOON:
        until = timezone.localtime(certification.valid_until, dt.UTC)
        return Standing(client, certification, False, f"Certified until {until:%Y-%m-%d}.")
    if certification.failed_attempts >= ATTEMPTS_IN_A_ROW and certification.last_attempt_at:
        again = certification.last_attempt_at + COOL_DOWN
        if again > now:
            return Standing(
                client, certification, False,
                f"{certification.failed_attempts} failed attempts in a row: try again after "
                f"{timezone.localtime(again, dt.UTC):%Y-%m-%d %H:%M} UTC.",
            )  # fmt: skip
    return Standing(client, certification, True, "")


def operator_standings(*, operator: OperatorProfile, now: dt.datetime) -> list[Standing]:
    """The companies whose skills the operator was assigned and that have a quiz: their standing."""
    clients = Client.objects.filter(queues__skills__operator=operator, certification_quiz__isnull=False)
    mine = {c.client_id: c for c in Certification.objects.filter(operator=operator)}
    return [
        standing(mine.get(client.pk), client=client, now=now)
        for client in clients.distinct().order_by("name")
    ]


def access_quiz(*, operator: OperatorProfile, slug: str) -> CertificationQuiz:
    """The quiz of a company whose skills the operator was assigned; ``CertificationQuiz.DoesNotExist``
    for any other company (an operator sees no other company's quiz)."""
    assigned = Skill.objects.filter(operator=operator, queue__tenant=OuterRef("client"))
    return CertificationQuiz.objects.select_related("client").filter(Exists(assigned)).get(client__slug=slug)


def _unlock(operator: OperatorProfile, client: Client, until: dt.datetime | None) -> None:
    """The operator's skills on the company's queues follow the certificate; matched again after
    commit when unlocked (a waiting call may now reach them)."""
    skills = Skill.objects.filter(operator=operator, queue__tenant=client)
    queue_ids = list(skills.values_list("queue_id", flat=True))
    skills.update(certified_until=until)
    if until is not None and queue_ids:
        transaction.on_commit(partial(send_after_commit, match_queues, sorted(queue_ids)))


def attempt_submit(
    *,
    operator: OperatorProfile,
    quiz_row: CertificationQuiz,
    quiz_version: Any,
    answers: Any,
    now: dt.datetime,
) -> tuple[Certification, int, bool]:
    """Score an attempt server-side; on a pass certify the operator and unlock their skills of the
    company. Returns the certificate, the score (%) and whether it passed. Raises ``quiz.QuizError``
    for malformed answers and ``CertificationRefused`` when the quiz changed or a retake is not due."""
    client = quiz_row.client
    with transaction.atomic():
        current = CertificationQuiz.objects.select_for_update().get(pk=quiz_row.pk)
        if str(quiz_version) != str(current.version):
            raise CertificationRefused(
                "The quiz was changed since you opened it: reload it and answer again."
            )
        questions = questions_of(current)
        chosen = quiz.answers_parse(answers, questions)
        certification = (
            Certification.objects.select_for_update().filter(operator=operator, client=client).first()
        )
        place = standing(certification, client=client, now=now)
        if not place.may_take:
            raise CertificationRefused(place.why_not)
        percent = quiz.score(questions, chosen)
        passed = percent >= current.pass_percent
        if certification is None:
            certification = Certification(
                operator=operator, client=client, state=State.FAILED, changed_at=now
            )
        certification.score_percent, certification.last_attempt_at = percent, now
        event = {"score_percent": percent, "quiz_version": current.version}
        if passed:
            until = now + dt.timedelta(days=valid_days(client))
            certification.state, certification.valid_until, certification.passed_at = (
                State.CERTIFIED,
                until,
                now,
            )
            certification.failed_attempts, certification.changed_at = 0, now
            _unlock(operator, client, until)
            _event(certification, Kind.GRANTED, now, valid_until=until, **event)
        else:
            certification.failed_attempts += 1
            if certification.state != State.CERTIFIED:  # a failed renewal keeps the certificate
                certification.state, certification.changed_at = State.FAILED, now
            _event(certification, Kind.FAILED, now, **event)
        certification.save()
    return certification, percent, passed


def certification_grant(
    *, operator: OperatorProfile, client: Client, valid_until: dt.datetime, now: dt.datetime, reason: str
) -> Certification:
    """Certify without an attempt (the demo's seeded floor): unlocks the skills, records the grant."""
    with transaction.atomic():
        held, _ = Certification.objects.select_for_update().get_or_create(
            operator=operator, client=client, defaults={"state": State.FAILED, "changed_at": now}
        )
        held.state, held.valid_until, held.passed_at, held.changed_at = State.CERTIFIED, valid_until, now, now
        held.failed_attempts = 0
        held.save()
        _unlock(operator, client, valid_until)
        _event(held, Kind.GRANTED, now, valid_until=valid_until, reason=reason[:200])
    return held


def _event(certification: Certification, kind: str, now: dt.datetime, **fields: Any) -> None:
    CertificationEvent.objects.create(
        operator_id=certification.operator_id, client_id=certification.client_id, kind=kind, at=now, **fields
    )


def _end(
    certification: Certification, *, state: str, kind: str, now: dt.datetime, reason: str, by: str
) -> None:
    certification.state, certification.valid_until, certification.changed_at = state, None, now
    certification.save(update_fields=["state", "valid_until", "changed_at"])
    _unlock(certification.operator, certification.client, None)
    _event(certification, kind, now, reason=reason[:200], by_name=by[:200])


def certification_revoke(*, certification: Certification, by: str, reason: str, now: dt.datetime) -> None:
    """A supervisor takes a certificate away: the operator's skills of the company lock at once."""
    if not reason.strip():
        raise CertificationRefused("Say why the certificate is revoked.")
    with transaction.atomic():
        locked = (
            Certification.objects.select_for_update()
            .select_related("operator", "client")
            .get(pk=certification.pk)
        )
        if locked.state != State.CERTIFIED:
            raise CertificationRefused("Only a valid certificate can be revoked.")
        _end(locked, state=State.REVOKED, kind=Kind.REVOKED, now=now, reason=reason.strip(), by=by)


def certifications_void(*, client: Client, reason: str, now: dt.datetime) -> int:
    """Void every valid certificate of the company (a major script version went live). Returns how many."""
    with transaction.atomic():
        held = list(
            Certification.objects.select_for_update().select_related("operator", "client")
            .filter(client=client, state=State.CERTIFIED).order_by("pk")
        )  # fmt: skip
        for certification in held:
            _end(certification, state=State.VOIDED, kind=Kind.VOIDED, now=now, reason=reason, by="")
    return len(held)


def certifications_expire(*, now: dt.datetime) -> int:
    """Record the expiry of every certificate past its date (the router stopped using it at that
    date already). Safe to run twice: an expired certificate is not certified any more."""
    with transaction.atomic():
        due = list(
            Certification.objects.select_for_update(skip_locked=True)
            .filter(state=State.CERTIFIED, valid_until__lte=now).order_by("pk")
        )  # fmt: skip
        for certification in due:
            at = certification.valid_until
            certification.state, certification.changed_at = State.EXPIRED, now
            certification.save(update_fields=["state", "changed_at"])
            _event(certification, Kind.EXPIRED, now, valid_until=at, reason="Reached its date.")
    return len(due)


def certified_until(*, operator: OperatorProfile, client: Client, now: dt.datetime) -> dt.datetime | None:
    """The date a newly assigned skill of this company is unlocked until (None: locked)."""
    return (
        Certification.objects.filter(
            operator=operator, client=client, state=State.CERTIFIED, valid_until__gt=now
        )
        .values_list("valid_until", flat=True)
        .first()
    )


def certified_count(*, client: Client, now: dt.datetime) -> int:
    """How many operators serve the company with a valid certificate: certified for it and holding
    one of its skills (what the client may see: a count, never who)."""
    return (
        OperatorProfile.objects.filter(
            certifications__client=client, certifications__state=State.CERTIFIED,
            certifications__valid_until__gt=now, skills__queue__tenant=client,
        )
        .distinct()
        .count()
    )  # fmt: skip


def expiring_soon(now: dt.datetime) -> Q:
    return Q(state=State.CERTIFIED, valid_until__gt=now, valid_until__lte=now + EXPIRING_SOON)
