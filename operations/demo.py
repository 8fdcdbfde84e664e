"""A demo that looks like a working day: a floor of a dozen operators with skills and shifts
(breaks included), and the last weeks of calls of each company, with handle times in minutes,
callers' patience, a daily arrival curve, abandons, voicemails, callbacks and IVR-completed calls,
built into statistics so the charts and the staffing forecast have history from the first minute.
Seeded by ``manage.py demo``; idempotent, and random only through a seeded generator."""

from __future__ import annotations

import datetime as dt
import math
import random
import zoneinfo

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Role, User
from operations import certification
from operations.models import Certification, CertificationQuiz, Shift
from reporting import stats
from telephony.calls.models import Call, TelephonySettings
from telephony.models import OperatorProfile, Queue, Skill
from telephony.operators import profile_for
from tenants.models import Client

# The floor beyond the three first demo operators: (username, first, last, languages).
MORE_OPERATORS = [
    ("operator4", "Pia", "Larsen", ["en", "da"]),
    ("operator5", "Ravi", "Menon", ["en"]),
    ("operator6", "Lena", "Fischer", ["en", "de"]),
    ("operator7", "Tomas", "Silva", ["en", "pt"]),
    ("operator8", "Amara", "Okafor", ["en", "fr"]),
    ("operator9", "Jin", "Park", ["en", "ko"]),
    ("operator10", "Sofia", "Rossi", ["en", "it"]),
    ("operator11", "Yusuf", "Demir", ["en", "tr"]),
    ("operator12", "Mia", "Novak", ["en", "cs"]),
]
# Shifts in UTC: (start hour, minutes, length in hours, breaks in minutes).
SHIFTS = [(7, 0, 8.5, 45), (9, 0, 8.5, 45), (12, 0, 8.5, 45)]
MARK = "CAdemohist"  # the call SIDs of generated history: found again on a second run
DEMO_QUIZ = """? A caller asks to cancel an order that has shipped. What do you offer?
- Cancel it in the system at once
+ A free return once it arrives
- A callback from a specialist tomorrow

? Which details do you check before giving any account information?
+ The customer number
+ The postcode on the account
- The caller's phone number only

? Where do you note the call's outcome?
- In a free-text e-mail to the client
+ In the disposition at the end of the script
"""
# Every fifth certificate of the demo floor expires within days (the supervisors' "expiring soon").
EXPIRING_EVERY = 5


def seed_floor(*, today: dt.date, days: int = 7) -> int:
    """Skills on every demo company's default queue (tiers rotating) and a week of shifts for every
    operator; the operators' users must exist. Returns the shifts added."""
    queues = list(Queue.objects.filter(is_default=True).select_related("tenant").order_by("tenant__slug"))
    operators = list(User.objects.filter(role=Role.OPERATOR, username__startswith="operator").order_by("pk"))
    added = 0
    languages = {username: spoken for username, _, _, spoken in MORE_OPERATORS}
    with transaction.atomic():
        for n, user in enumerate(operators):
            profile = profile_for(user)
            if not profile.languages and user.username in languages:
                OperatorProfile.objects.filter(pk=profile.pk).update(languages=languages[user.username])
            for m, queue in enumerate(queues):
                Skill.objects.get_or_create(operator=profile, queue=queue, defaults={"tier": 1 + (n + m) % 3})
            hour, minute, hours, breaks = SHIFTS[n % len(SHIFTS)]
            for offset in range(days):
                day = today + dt.timedelta(days=offset)
                if day.weekday() == (n % 7):  # each operator's day off
                    continue
                start = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)
                end = start + dt.timedelta(hours=hours)
                if not Shift.objects.filter(operator=profile, starts_at__lt=end, ends_at__gt=start).exists():
                    Shift.objects.create(operator=profile, starts_at=start, ends_at=end, break_minutes=breaks)
                    added += 1
    return added


def seed_certifications(*, now: dt.datetime) -> int:
    """A quiz for every company with a queue and a certificate for every operator with one of its
    skills (R14), so the demo routes; every ``EXPIRING_EVERY``-th expires within days. Idempotent:
    a valid certificate is left alone. Returns the certificates granted."""
    granted = 0
    clients = Client.objects.companies().filter(queues__isnull=False).distinct().order_by("slug")
    for client in clients:
        if not CertificationQuiz.objects.filter(client=client).exists():
            certification.quiz_save(client=client, text=DEMO_QUIZ, pass_percent=80, by_name="Demo")
        operators = OperatorProfile.objects.filter(skills__queue__tenant=client).distinct().order_by("pk")
        valid = set(
            Certification.objects.filter(
                client=client, state=Certification.State.CERTIFIED, valid_until__gt=now
            ).values_list("operator_id", flat=True)
        )
        for n, operator in enumerate(operators):
            if operator.pk in valid:
                continue
            days = 3 + n % 7 if n % EXPIRING_EVERY == 0 else certification.valid_days(client)
            certification.certification_grant(
                operator=operator, client=client, valid_until=now + dt.timedelta(days=days), now=now,
                reason="Demo floor: certified.",
            )  # fmt: skip
            granted += 1
    return granted


def _arrivals(rng: random.Random, day_calls: float) -> list[float]:
    """Hours of the day (local) the calls arrive at: a morning and an afternoon peak."""
    hours = []
    for _ in range(rng.randint(int(day_calls * 0.8), int(day_calls * 1.2))):
        peak = 10.5 if rng.random() < 0.55 else 14.5
        hours.append(min(17.99, max(8.0, rng.gauss(peak, 1.4))))
    return sorted(hours)


def seed_history(*, client: Client, today: dt.date, days: int = 21, calls_per_day: int = 60) -> int:
    """The company's calls of the ``days`` before ``today`` (weekdays), then their statistics;
    nothing is added when they exist already. Returns the calls added."""
    rng = random.Random(client.slug)
    queue = Queue.objects.filter(tenant=client, is_default=True).first()
    staff = list(User.objects.filter(role=Role.OPERATOR, username__startswith="operator").order_by("pk"))
    first = today - dt.timedelta(days=days)
    with tenant_context(client):
        if Call.objects.filter(call_sid__startswith=MARK).exists():
            return 0
        zone = zoneinfo.ZoneInfo(TelephonySettings.current().timezone or "UTC")
        made = []
        for offset in range(days):
            day = first + dt.timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            for n, hour in enumerate(_arrivals(rng, calls_per_day * (1.15 if day.weekday() == 0 else 1.0))):
                made.append(_call(rng, day, hour, n, zone, queue, staff))
        Call.objects.bulk_create(made, batch_size=500)
        stats.build_days(first=first, last=today - dt.timedelta(days=1))
    return len(made)


def _call(rng, day, hour, n, zone, queue, staff) -> Call:
    started = dt.datetime.combine(day, dt.time(0), tzinfo=zone) + dt.timedelta(hours=hour)
    fields = {
        "call_sid": f"{MARK}{day:%Y%m%d}{n:05d}{rng.randrange(10**6):06d}",
        "direction": Call.Direction.INBOUND,
        "from_number": f"+1202555{rng.randrange(10**4):04d}", "to_number": "+12025550100",
        "status": Call.Status.COMPLETED, "started_at": started, "queue_id": queue.pk if queue else None,
        "queue_name": queue.name if queue else "",
    }  # fmt: skip
    roll = rng.random()
    if roll < 0.08:  # the caller's question answered by the phone menu
        end = started + dt.timedelta(seconds=rng.randint(40, 120))
        return Call(
            **fields,
            ivr_started_at=started,
            outcome=Call.Outcome.COMPLETED_IN_IVR,
            outcome_at=end,
            ended_at=end,
        )
    queued = started + dt.timedelta(seconds=rng.randint(15, 45))
    wait = int(rng.expovariate(1 / 25))
    patience = rng.expovariate(1 / 150)  # callers' mean patience: two and a half minutes
    if patience < wait or roll > 0.97:
        left = queued + dt.timedelta(seconds=min(wait, patience))
        outcome = Call.Outcome.ABANDONED
        if roll > 0.985:
            outcome = Call.Outcome.VOICEMAIL
        elif roll > 0.97:
            outcome = Call.Outcome.CALLBACK_REQUESTED
        return Call(**fields, queued_at=queued, wait_seconds=int(min(wait, patience)), outcome=outcome,
                    outcome_at=left, ended_at=left)  # fmt: skip
    talk = int(math.exp(rng.gauss(math.log(240), 0.45)))  # about four minutes, a long tail
    wrap = rng.randint(20, 90)
    answered = queued + dt.timedelta(seconds=wait)
    ended = answered + dt.timedelta(seconds=talk)
    operator = staff[rng.randrange(len(staff))] if staff else None
    return Call(
        **fields, queued_at=queued, wait_seconds=wait, answered_at=answered, talk_seconds=talk,
        wrapup_seconds=wrap, ended_at=ended, wrapup_ended_at=ended + dt.timedelta(seconds=wrap),
        outcome=Call.Outcome.HANDLED, outcome_at=ended, hold_seconds=rng.choice([0, 0, 0, 30, 60]),
        operator_id=operator.pk if operator else None,
        operator_name=(operator.get_full_name() if operator else "")[:150],
    )  # fmt: skip


def seed_working_day(*, today: dt.date | None = None) -> dict[str, int]:
    """The floor and every company's history (``manage.py demo``)."""
    today = today or timezone.localdate()
    added = {"shifts": seed_floor(today=today), "certificates": seed_certifications(now=timezone.now())}
    for client in Client.objects.companies().filter(status=Client.Status.ACTIVE, queues__is_default=True):
        added[client.slug] = seed_history(client=client, today=today)
    return added
