"""Who may take which company's calls: operators' skills (queue, tier, languages) and languages.

Every change is written in one transaction with its audit event (about the operator, for the queue's
company), then the queues it touches are matched again (``telephony.tasks.match_queues``), so a call
already waiting reaches an operator who was just given its skill.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from config.celery import send_after_commit
from operations.certification import certified_until
from telephony.models import OperatorProfile, Queue, Skill
from telephony.tasks import match_queues
from tenants.audit import record_event

LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")


def languages_parse(text: str) -> list[str]:
    """``"en, de"`` → ``["en", "de"]`` (lower-case ISO 639 codes, an optional region); no duplicates."""
    codes: list[str] = []
    for raw in re.split(r"[\s,;]+", text.strip()):
        if not raw:
            continue
        if not LANGUAGE.match(raw) or len(raw) > 8:
            raise ValidationError(f"“{raw}” is not a language code (such as en, de or pt-BR).")
        if raw not in codes:
            codes.append(raw)
    return codes


def _rematch_on_commit(queue_ids: Iterable[int]) -> None:
    ids = sorted(set(queue_ids))
    if ids:
        transaction.on_commit(partial(send_after_commit, match_queues, ids))


def _skill_view(skill: Skill | None) -> dict[str, object]:
    if skill is None:
        return {}
    label = f"{skill.queue.tenant.name} · {skill.queue.name}"
    return {"queue": label, "tier": skill.tier, "languages": list(skill.languages)}


def skill_set(
    *, operator: OperatorProfile, queue: Queue, tier: int, languages: list[str], by: object
) -> Skill:
    """Give ``operator`` the skill of ``queue`` at ``tier`` (or change it); audited, then re-matched.
    The skill is locked until the operator holds a valid certificate for the company (R14)."""
    if not 1 <= tier <= 9:
        raise ValidationError("The tier must be between 1 (best) and 9.")
    with transaction.atomic():
        existing = (
            Skill.objects.select_for_update(of=("self",)).select_related("queue__tenant")
            .filter(operator=operator, queue=queue).first()
        )  # fmt: skip
        before = _skill_view(existing)
        until = certified_until(operator=operator, client=queue.tenant, now=timezone.now())
        skill, _ = Skill.objects.update_or_create(
            operator=operator,
            queue=queue,
            defaults={"tier": tier, "languages": languages, "certified_until": until},
        )
        if before != _skill_view(skill):
            record_event(
                actor=by, action="skill.set", obj=operator, client=queue.tenant,
                before=before, after=_skill_view(skill),
            )  # fmt: skip
            _rematch_on_commit([queue.pk])
    return skill


def skill_remove(*, operator: OperatorProfile, queue: Queue, by: object) -> bool:
    """Take ``queue``'s skill from ``operator``; False if there was none. Audited."""
    with transaction.atomic():
        skill = Skill.objects.select_for_update().filter(operator=operator, queue=queue).first()
        if skill is None:
            return False
        record_event(
            actor=by, action="skill.removed", obj=operator, client=queue.tenant, before=_skill_view(skill)
        )
        skill.delete()
    return True


def skills_grant(*, operators: Iterable[OperatorProfile], queue: Queue, tier: int, by: object) -> int:
    """Give a team ``queue``'s skill at ``tier`` (a new company's "who will serve this client");
    an operator who has it already keeps their tier and languages; a skill is locked until its
    operator holds a valid certificate for the company (R14). Returns how many were added."""
    if not 1 <= tier <= 9:
        raise ValidationError("The tier must be between 1 (best) and 9.")
    team = list(operators)
    if not team:
        raise ValidationError("Choose at least one operator.")
    with transaction.atomic():
        has = set(Skill.objects.filter(queue=queue, operator__in=team).values_list("operator_id", flat=True))
        now = timezone.now()
        added = [
            Skill(operator=op, queue=queue, tier=tier,
                  certified_until=certified_until(operator=op, client=queue.tenant, now=now))
            for op in team if op.pk not in has
        ]  # fmt: skip
        Skill.objects.bulk_create(added, ignore_conflicts=True)
        for skill in added:
            record_event(
                actor=by, action="skill.set", obj=skill.operator, client=queue.tenant,
                after={"queue": f"{queue.tenant.name} · {queue.name}", "tier": tier, "languages": []},
            )  # fmt: skip
        if added:
            _rematch_on_commit([queue.pk])
    return len(added)


def operator_languages_set(*, operator: OperatorProfile, languages: list[str], by: object) -> None:
    """The languages the operator speaks (a skill without its own languages uses these)."""
    with transaction.atomic():
        locked = OperatorProfile.objects.select_for_update().get(pk=operator.pk)
        before = list(locked.languages)
        if before == languages:
            return
        # Only ``languages``: the state is ``telephony.operators.transition``'s alone.
        OperatorProfile.objects.filter(pk=operator.pk).update(languages=languages)
        operator.languages = languages
        record_event(
            actor=by, action="operator.languages", obj=operator,
            before={"languages": before}, after={"languages": languages},
        )  # fmt: skip
        _rematch_on_commit(Skill.objects.filter(operator=operator).values_list("queue_id", flat=True))
