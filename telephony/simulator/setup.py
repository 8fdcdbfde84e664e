"""What a simulation needs from the database: operators with skills, their sessions, the numbers."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Role, User
from telephony.models import PhoneNumber, Queue
from telephony.operators import profile_for
from telephony.routing_models import Skill
from tenants.models import Client

SIMULATED_CERTIFICATE = dt.timedelta(days=1)


def numbers_of(slugs: list[str]) -> list[str]:
    """The in-service numbers of these client companies (all active ones when none are named)."""
    query = PhoneNumber.objects.filter(state=PhoneNumber.State.ASSIGNED, tenant__status=Client.Status.ACTIVE)
    if slugs:
        query = query.filter(tenant__slug__in=slugs)
    return list(query.values_list("number", flat=True))


def simulated_operators(
    *, count: int, slugs: list[str], prefix: str = "sim-operator"
) -> list[tuple[str, str]]:
    """``count`` operators skilled on the default queues of these companies, each with a live session.

    Returns (username, session key) pairs; the session is what a browser login would have made.
    """
    assert connection.schema_name == "public"
    queues = Queue.objects.filter(is_default=True, tenant__status=Client.Status.ACTIVE)
    if slugs:
        queues = queues.filter(tenant__slug__in=slugs)
    result = []
    with transaction.atomic():
        for index in range(1, count + 1):
            username = f"{prefix}-{index}"
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"role": Role.OPERATOR, "first_name": "Sim", "last_name": f"#{index}"},
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            profile = profile_for(user)
            for queue in queues:
                Skill.objects.get_or_create(operator=profile, queue=queue, defaults={"tier": 1 + index % 2})
            # The simulator plays operators certified for every company they serve (R14), for a day.
            Skill.objects.filter(operator=profile, queue__in=queues).update(
                certified_until=timezone.now() + SIMULATED_CERTIFICATE
            )
            result.append((username, _session_for(user)))
    return result


def simulated_supervisors(*, count: int, prefix: str = "sim-supervisor") -> list[tuple[str, str]]:
    """``count`` supervisors with a live session each, to play the wallboard's live supervision."""
    assert connection.schema_name == "public"
    result = []
    for index in range(1, count + 1):
        user, created = User.objects.get_or_create(
            username=f"{prefix}-{index}",
            defaults={"role": Role.SUPERVISOR, "first_name": "Sim", "last_name": f"Supervisor {index}"},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        result.append((user.username, _session_for(user)))
    return result


def _session_for(user: User) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key
