"""What the operations pages read: operators with their skills and shifts, and who serves whom."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Prefetch
from django.utils import timezone

from operations.models import Shift
from telephony.models import OperatorProfile, Queue, Skill
from tenants.models import Client


def operators_with_skills() -> list[OperatorProfile]:
    """Every operator, with their skills (company and queue) and their next or current shift."""
    now = timezone.now()
    skills = Skill.objects.select_related("queue__tenant").order_by("queue__tenant__name", "queue__name")
    shifts = Shift.objects.filter(ends_at__gt=now).order_by("starts_at")
    return list(
        OperatorProfile.objects.select_related("user")
        .prefetch_related(
            Prefetch("skills", queryset=skills), Prefetch("shifts", queryset=shifts, to_attr="coming")
        )
        .order_by("user__last_name", "user__first_name", "user__username")
    )


@dataclass
class QueueTeam:
    queue: Queue
    skills: list[Skill] = field(default_factory=list)


@dataclass
class CompanyTeam:
    company: Client
    queues: list[QueueTeam] = field(default_factory=list)

    @property
    def operator_count(self) -> int:
        return len({skill.operator_id for team in self.queues for skill in team.skills})


def teams(companies: list[Client] | None = None) -> list[CompanyTeam]:
    """Per company and queue, the operators who serve it (best tier first)."""
    queues = Queue.objects.select_related("tenant").order_by("tenant__name", "-is_default", "name")
    if companies is not None:
        queues = queues.filter(tenant__in=companies)
    else:
        queues = queues.exclude(tenant__status=Client.Status.CLOSED)
    skills = Skill.objects.select_related("operator__user").order_by("tier", "operator__user__username")
    result: dict[int, CompanyTeam] = {}
    for queue in queues.prefetch_related(Prefetch("skills", queryset=skills)):
        team = result.setdefault(queue.tenant_id, CompanyTeam(company=queue.tenant))
        team.queues.append(QueueTeam(queue=queue, skills=list(queue.skills.all())))
    return list(result.values())


def shifts_of(operator: OperatorProfile, *, since: dt.datetime | None = None) -> list[Shift]:
    since = since or timezone.now() - dt.timedelta(days=1)
    return list(Shift.objects.filter(operator=operator, ends_at__gt=since).order_by("starts_at")[:50])
