"""The router under a full floor: 1,000 operators online, 5,000 calls waiting across 500 tenants.

Measures the time from an operator becoming free (or a call entering a queue) to its reservation,
p50/p99 in ms, and matches per second: one ``match`` over the whole floor (a shift starting), and
two processes matching freed operators one by one at the same time.

Tenants are bare ``Client`` rows (no schemas): the router lives in public and needs only the rows.
Runs against its own database (``bench_routing``) on the configured server (embedded by default).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import random
import statistics
import time
import uuid

from bench._django import setup

TENANTS = 500
EXPRESS = 50  # queues that start empty: a call entering one is matched at once
OPERATORS = 1000
EXPRESS_OPERATORS = 100
WAITING = 5000
SKILLS_PER_OPERATOR = 10


def _setup_django() -> None:
    setup(os.environ.get("BENCH_ROUTING_DATABASE", "bench_routing"))


def _floor() -> dict[str, list[int]]:
    """A fresh floor: tenants and queues kept between runs, routing state rebuilt."""
    from django.utils import timezone

    from accounts.models import Role, User
    from telephony.models import OperatorEvent, OperatorProfile, Queue, Reservation, Skill, WaitingCall
    from tenants.clients import ensure_platform
    from tenants.models import Client

    ensure_platform()
    Reservation.objects.all().delete()
    OperatorEvent.objects.all().delete()
    WaitingCall.objects.all().delete()
    Skill.objects.all().delete()
    OperatorProfile.objects.all().delete()
    existing = set(Client.objects.filter(slug__startswith="rb-").values_list("slug", flat=True))
    Client.objects.bulk_create(  # bulk_create skips save(): no schema is created
        Client(slug=f"rb-{i:04d}", name=f"Routing bench {i}", schema_name=f"t_rb_{i:04d}", status="active")
        for i in range(TENANTS + EXPRESS)
        if f"rb-{i:04d}" not in existing
    )
    clients = list(Client.objects.filter(slug__startswith="rb-").order_by("slug"))
    have = set(Queue.objects.filter(tenant__in=clients, is_default=True).values_list("tenant_id", flat=True))
    Queue.objects.bulk_create(
        Queue(tenant=c, name="Default", is_default=True) for c in clients if c.pk not in have
    )
    Queue.objects.filter(tenant__in=clients).update(overflow_after=0, max_length=100_000, ring_timeout=20)
    # Contract terms on some queues, so that matches read seats and the pool (issue 20).
    Queue.objects.filter(tenant__in=clients).update(reserved_seats=0, max_seats=None, max_share_percent=None)
    Queue.objects.filter(tenant__in=clients[::4]).update(reserved_seats=1)
    Queue.objects.filter(tenant__in=clients[1::5]).update(max_share_percent=5)
    queues = list(Queue.objects.filter(tenant__in=clients).order_by("tenant__slug"))
    main, express = queues[:TENANTS], queues[TENANTS:]
    have_users = {
        u.username: u for u in User.objects.filter(username__startswith="rb-op-", role=Role.OPERATOR)
    }
    User.objects.bulk_create(
        User(username=f"rb-op-{i:04d}", role=Role.OPERATOR, password="!")
        for i in range(OPERATORS)
        if f"rb-op-{i:04d}" not in have_users
    )
    users = list(User.objects.filter(username__startswith="rb-op-").order_by("username"))
    now = timezone.now()
    rng = random.Random(5)
    profiles = OperatorProfile.objects.bulk_create(
        OperatorProfile(
            user=u,
            state="wrap_up" if i < OPERATORS - EXPRESS_OPERATORS else "available",
            state_since=now,
            idle_since=now - timezone.timedelta(seconds=rng.random() * 600),
        )
        for i, u in enumerate(users)
    )
    skills = []
    for i, profile in enumerate(profiles):
        pool = main if i < OPERATORS - EXPRESS_OPERATORS else express
        for queue in rng.sample(pool, k=min(SKILLS_PER_OPERATOR, len(pool))):
            certified = now + dt.timedelta(days=30)  # the router's certificate gate (R14) is paid in full
            skills.append(
                Skill(operator=profile, queue=queue, tier=rng.randint(1, 3), certified_until=certified)
            )
    Skill.objects.bulk_create(skills)
    WaitingCall.objects.bulk_create(
        WaitingCall(
            tenant_id=queue.tenant_id,
            queue=queue,
            call_sid=f"CA{uuid.uuid4().hex}",
            priority=rng.choice([0, 0, 0, 1]),
            enqueued_at=now - timezone.timedelta(seconds=rng.random() * 300),
        )
        for index in range(WAITING)
        for queue in [main[index % TENANTS]]
    )
    return {
        "main": [q.pk for q in main],
        "express": [q.pk for q in express],
        "busy": [p.pk for p in profiles[: OPERATORS - EXPRESS_OPERATORS]],
    }


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (
        round(statistics.median(ordered), 2),
        round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
    )


def _operator_free(floor: dict[str, list[int]], rounds: int) -> list[float]:
    """An operator ends wrap-up → the reservation of the best call they may take (timed)."""
    from telephony import routing
    from telephony.models import OperatorProfile, Queue, Reservation
    from telephony.routing import profile_set_state

    rng = random.Random(11)
    queues = {q.pk: q for q in Queue.objects.filter(pk__in=floor["main"]).select_related("tenant")}
    samples = []
    for _ in range(rounds):
        profile_id = rng.choice(floor["busy"])
        if OperatorProfile.objects.get(pk=profile_id).state != "wrap_up":
            continue
        start = time.perf_counter()
        profile_set_state(profile_id=profile_id, state="available")  # offered in the same commit
        samples.append((time.perf_counter() - start) * 1000)
        offer = Reservation.objects.select_related("call", "operator__user").get(
            operator_id=profile_id, state="offered"
        )
        routing.accept(reservation_id=offer.pk, operator=offer.operator.user)
        routing.leave(call_sid=offer.call.call_sid, outcome="handled")  # → wrap-up
        queue = queues[rng.choice(floor["main"])]
        routing.enqueue(tenant=queue.tenant, queue=queue, call_sid=f"CA{uuid.uuid4().hex}")  # keep 5,000
    return samples


def _call_arrives(floor: dict[str, list[int]], rounds: int) -> list[float]:
    """A call enters a queue with an idle operator → its reservation (timed)."""
    from django.db import transaction

    from telephony import routing
    from telephony.models import Queue, Reservation, WaitingCall
    from telephony.routing import profile_set_state

    rng = random.Random(13)
    queues = list(Queue.objects.filter(pk__in=floor["express"]).select_related("tenant"))
    samples = []
    for _ in range(rounds):
        queue = rng.choice(queues)
        call_sid = f"CA{uuid.uuid4().hex}"
        start = time.perf_counter()
        with transaction.atomic():  # as in the incoming-call webhook: queued and offered in one commit
            routing.enqueue(tenant=queue.tenant, queue=queue, call_sid=call_sid)
        samples.append((time.perf_counter() - start) * 1000)
        offer = Reservation.objects.select_related("operator__user").filter(
            call=WaitingCall.objects.get(call_sid=call_sid), state="offered"
        )
        offer = offer.first()
        if offer is None:  # every express operator of that queue busy: not a sample
            samples.pop()
            continue
        routing.accept(reservation_id=offer.pk, operator=offer.operator.user)
        routing.leave(call_sid=call_sid, outcome="handled")
        profile_set_state(profile_id=offer.operator_id, state="available")
    return samples


def _match_one_by_one(profile_ids: list[int]) -> int:
    """One process of the throughput run: each freed operator is matched on its own."""
    _setup_django()
    from telephony import routing

    return sum(len(routing.match(operator_ids=[profile_id])) for profile_id in profile_ids)


def _throughput(floor: dict[str, list[int]]) -> dict[str, float]:
    from telephony import routing
    from telephony.models import OperatorProfile, Reservation, WaitingCall

    def free_everyone() -> list[int]:
        Reservation.objects.filter(state="offered").update(state="cancelled")
        WaitingCall.objects.filter(state="reserved").update(state="waiting")
        OperatorProfile.objects.filter(pk__in=floor["busy"]).update(state="available")
        return list(floor["busy"])

    free_everyone()
    start = time.perf_counter()
    bulk = len(routing.match())
    bulk_seconds = time.perf_counter() - start

    ids = free_everyone()
    random.Random(3).shuffle(ids)
    context = multiprocessing.get_context("spawn")
    with context.Pool(2, initializer=_setup_django) as pool:
        pool.map(_match_one_by_one, [[], []])  # warm both processes
        start = time.perf_counter()
        made = sum(pool.map(_match_one_by_one, [ids[0::2], ids[1::2]]))
        seconds = time.perf_counter() - start
    return {
        "bulk_match_reservations": bulk,
        "bulk_match_s": round(bulk_seconds, 3),
        "bulk_matches_per_s": round(bulk / bulk_seconds, 1),
        "concurrent_2proc_reservations": made,
        "concurrent_2proc_matches_per_s": round(made / seconds, 1),
    }


def run(quick: bool) -> dict[str, object]:
    _setup_django()
    # routing.accept does not bridge (that is telephony.answering's): the router's own work
    # is what is measured, on tenants that are bare rows without schemas.
    from django.conf import settings
    from django.core.management import call_command

    from telephony.models import OperatorProfile, WaitingCall

    load_before = os.getloadavg()[0]
    call_command("migrate_schemas", "--shared", interactive=False, verbosity=0)
    floor = _floor()
    rounds = 300 if quick else 2000
    _operator_free(floor, 20)  # warm-up: connections, caches
    # This process's CPU per round too: on a shared machine it varies far less than the latencies.
    # Fairness between companies on and off in alternating blocks of the same run (issue 20).
    free, unfair, free_cpu = [], [], 0.0
    for block in range(10):
        settings.ROUTING_FAIRNESS = block % 2 == 1
        cpu = time.process_time()
        samples = _operator_free(floor, rounds // 5)
        if settings.ROUTING_FAIRNESS:
            free.extend(samples)
            free_cpu += time.process_time() - cpu
        else:
            unfair.extend(samples)
    settings.ROUTING_FAIRNESS = True
    cpu = time.process_time()
    arrive = _call_arrives(floor, rounds)
    arrive_cpu = time.process_time() - cpu
    result: dict[str, object] = {
        "operators_online": OperatorProfile.objects.exclude(state="offline").count(),
        "calls_waiting": WaitingCall.objects.filter(state="waiting").count(),
        "tenants": TENANTS + EXPRESS,
        "operator_free_to_reservation_ms_p50": _percentiles(free)[0],
        "operator_free_to_reservation_ms_p99": _percentiles(free)[1],
        "operator_free_without_fairness_ms_p50": _percentiles(unfair)[0],
        "operator_free_without_fairness_ms_p99": _percentiles(unfair)[1],
        "call_to_reservation_ms_p50": _percentiles(arrive)[0],
        "call_to_reservation_ms_p99": _percentiles(arrive)[1],
        "samples": len(free) + len(arrive),
        # Each round also accepts the offer, ends the call and refills the floor (untimed above).
        "operator_free_round_cpu_ms": round(free_cpu / rounds * 1000, 2),
        "call_arrives_round_cpu_ms": round(arrive_cpu / rounds * 1000, 2),
        "cpus": os.cpu_count(),
        "goal_p99_ms": 10,
        "goal_matches_per_s": 500,
    }
    result.update(_throughput(floor))
    # Other work on the machine slows every figure above: say how busy it was.
    result["load_average_1m_before"] = round(load_before, 2)
    result["load_average_1m_after"] = round(os.getloadavg()[0], 2)
    return result
