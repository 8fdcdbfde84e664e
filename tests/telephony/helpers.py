"""Factories for router tests: queues and operators with skills, in the public schema."""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Role
from telephony import conferences
from telephony.calls.models import Call
from telephony.models import OperatorProfile, Queue, Reservation, Skill
from tests.conftest import make_user

T0 = timezone.now().replace(microsecond=0) - dt.timedelta(hours=1)
# Skills made by the tests are certified (R14) unless a test says otherwise.
CERTIFIED_UNTIL = timezone.now() + dt.timedelta(days=365)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def make_queue(tenant, **settings) -> Queue:
    settings.setdefault("overflow_after", 0)
    return Queue.objects.create(tenant=tenant, name=f"q-{uuid.uuid4().hex[:8]}", **settings)


def make_operator(
    skills: dict[Queue, int] | None = None,
    *,
    state: str = "available",
    idle: float = 0.0,
    languages: list[str] | None = None,
) -> OperatorProfile:
    user = make_user(None, role=Role.OPERATOR)
    profile = OperatorProfile.objects.create(
        user=user, state=state, state_since=at(idle), idle_since=at(idle), languages=languages or []
    )
    for queue, tier in (skills or {}).items():
        Skill.objects.create(operator=profile, queue=queue, tier=tier, certified_until=CERTIFIED_UNTIL)
    return profile


def sid() -> str:
    return "CA" + uuid.uuid4().hex


def operator_joined(waiting) -> None:
    """The operator who accepted ``waiting`` (a router's call) joins its conference: the answer,
    as Twilio's join callback records it (``conferences.participant_joined``)."""
    reservation = Reservation.objects.get(call=waiting, state=Reservation.State.ACCEPTED)
    with tenant_context(waiting.tenant):
        call = Call.objects.get(call_sid=waiting.call_sid)
        label = conferences.operator_label(reservation.pk)
        assert conferences.participant_joined(call=call, label=label, leg_sid="CA" + uuid.uuid4().hex)
