"""Statistics, the month's invoice and the API's daily statistics for one tenant with many calls.

Quick: 100,000 call records over 30 days; full: 1,000,000 (inserted with COPY). Runs against its
own database (``bench_cc``) on the configured server (embedded by default).
Goals (for 1M): statistics ≤ 10 s, invoice ≤ 3 s, API daily stats for a month ≤ 100 ms.
The event store is on: each call has its terminal status callback kept as evidence (one
``WebhookEvidence`` row per call), and one day is replayed against it (``telephony.evidence``).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import time

from bench._django import setup

SLUG = "bench-reporting"
MONTH = dt.date(2026, 3, 1)
DAYS = 30
QUEUES = 5
OPERATORS = 60


def _tenant():
    from tenants.clients import client_create, ensure_platform
    from tenants.models import Client

    ensure_platform()
    return Client.objects.filter(slug=SLUG).first() or client_create(
        slug=SLUG, name="Bench reporting", status=Client.Status.ACTIVE
    )


def _contract(client) -> None:
    from tenants.catalogue import seed_catalogue
    from tenants.contracts import tariffs_for
    from tenants.models import Contract, ContractVersion, Order, Service

    if Contract.objects.filter(client=client, in_force__isnull=False).exists():
        return
    seed_catalogue()
    order = Order.objects.create(
        legal_name="Bench",
        registration_number="R",
        tax_number="T",
        address="A",
        portal_slug=SLUG,
        contact_first_name="B",
        contact_last_name="C",
        contact_email="b@example.com",
        contact_phone="+15550100000",
        calls_per_month=1_000_000,
        peak_hour_calls=5000,
        coverage="always",
        time_zone="UTC",
        start_date=MONTH,
        numbers_wanted=1,
    )
    order.services.set(
        Service.objects.filter(code__in=["inbound", "outbound", "ivr", "recording", "transfer"])
    )
    contract = Contract.objects.create(order=order, client=client, state=Contract.State.ACCEPTED)
    version = ContractVersion.objects.create(
        contract=contract,
        number=1,
        state="accepted",
        terms={"sl_seconds": 20, "tax_percent": "19"},
        tariffs=tariffs_for(order=order, on=MONTH),
        created_by_name="bench",
        sent_at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
        pdf_sha256="0" * 64,
    )
    Contract.objects.filter(pk=contract.pk).update(in_force=version)


COLUMNS = (
    "call_sid",
    "direction",
    "from_number",
    "to_number",
    "status",
    "queue_id",
    "queue_name",
    "started_at",
    "ivr_started_at",
    "queued_at",
    "answered_at",
    "ended_at",
    "wait_seconds",
    "talk_seconds",
    "hold_seconds",
    "wrapup_seconds",
    "operator_id",
    "operator_name",
    "disposition",
    "transferred_to",
    "recording_sid",
    "recording_url",
    "recording_seconds",
    "outcome",
    "outcome_at",
    "after_hours",
)


def _rows(count: int):
    rng = random.Random(42)
    start = dt.datetime.combine(MONTH, dt.time(), tzinfo=dt.UTC)
    second = dt.timedelta(seconds=1)
    for index in range(count):
        started = start + rng.randrange(DAYS * 86400) * second
        outbound = rng.random() < 0.1
        ivr = None if outbound or rng.random() < 0.7 else started
        queued = None if outbound else started + rng.randrange(0, 40) * second
        roll = rng.random()
        outcome = "handled"
        answered = operator = None
        wait = talk = wrapup = rec = None
        hold = 0
        if ivr is not None and roll < 0.25:
            outcome, queued = "completed_in_ivr", None
        elif not outbound and roll < 0.40:
            outcome, wait = "abandoned", rng.randrange(0, 120)
        elif not outbound and roll < 0.45:
            outcome, wait = rng.choice(["voicemail", "callback_requested"]), rng.randrange(30, 300)
        if outcome == "handled":
            wait = 0 if outbound else rng.randrange(0, 90)
            answered = (queued or started) + wait * second
            talk, hold, wrapup = rng.randrange(20, 900), rng.choice([0, 0, 0, 30]), rng.randrange(0, 60)
            operator = rng.randrange(1, OPERATORS + 1)
            rec = talk if rng.random() < 0.5 else None
        ended = started + (wait or 0) * second + (talk or 30) * second
        queue = None if queued is None else rng.randrange(1, QUEUES + 1)
        yield (
            f"CB{index:032d}",
            "outbound" if outbound else "inbound",
            "+15550100100",
            "+15550199001",
            "completed",
            queue,
            f"Queue {queue}" if queue else "",
            started,
            ivr,
            queued,
            answered,
            ended,
            wait,
            talk,
            hold,
            wrapup,
            operator,
            f"Operator {operator}" if operator else "",
            rng.choice(["sale", "info", "complaint", ""]) if answered else "",
            "legal" if answered and rng.random() < 0.05 else "",
            "RE1" if rec else "",
            "",
            rec,
            outcome,
            ended,
            False,
        )


def _load_calls(client, count: int) -> int:
    from django.db import connection, models
    from django_tenants.utils import tenant_context

    from telephony.calls.models import Call

    # Any other required column of a call (added since) gets its default, a text column without one
    # is left empty: not what this measures.
    others = {
        f.column: f.get_default() if f.has_default() else ""
        for f in Call._meta.concrete_fields
        if f.column not in COLUMNS
        and not f.null
        and (f.has_default() or isinstance(f, models.CharField | models.TextField))
    }
    empty = list(others)
    with tenant_context(client):
        if Call.objects.count() == count:
            return 0
        with connection.cursor() as cursor:
            table = f'"{client.schema_name}"."{Call._meta.db_table}"'
            cursor.execute(f"TRUNCATE {table} CASCADE")
            with cursor.cursor.copy(f"COPY {table} ({', '.join([*COLUMNS, *empty])}) FROM STDIN") as copy:
                for row in _rows(count):
                    copy.write_row((*row, *others.values()))
            cursor.execute(f"ANALYZE {table}")
    return count


FROM, TO = "+15550100100", "+15550199001"


def _load_evidence(client) -> int:
    """One kept status callback per call (as ``telephony.evidence.keep`` stores it), in one COPY."""
    import json

    from django.db import connection
    from django_tenants.utils import tenant_context

    from telephony.calls.models import Call, WebhookEvidence

    with tenant_context(client):
        calls = Call.objects.count()
        if WebhookEvidence.objects.count() == calls:
            return 0
        url = f"https://bench.example/twilio/voice/status?t={client.schema_name}"
        with connection.cursor() as cursor:
            table = f'"{client.schema_name}"."{WebhookEvidence._meta.db_table}"'
            cursor.execute(f"TRUNCATE {table}")
            columns = "received_at, call_sid, url, params, signature, idempotency_key"
            rows = list(Call.objects.values_list("call_sid", "ended_at", "status"))  # not while copying
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for sid, ended, status in rows:
                    params = {
                        "CallSid": sid,
                        "CallStatus": status,
                        "From": "+15550100100",
                        "To": "+15550199001",
                    }
                    copy.write_row((ended, sid, url, json.dumps(params), "bench=", f"bench-{sid}"))
            cursor.execute(f"ANALYZE {table}")
        return calls


def _timed(function, repeat: int = 1) -> float:
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def run(quick: bool) -> dict[str, object]:
    setup(os.environ.get("BENCH_DATABASE", "bench_cc"))
    from django.core.management import call_command
    from django.test import Client as HttpClient
    from django_tenants.utils import tenant_context

    from reporting import billing, stats
    from reporting.keys import api_key_create
    from reporting.models import Invoice, Statistic
    from telephony import evidence

    call_command("migrate_schemas", interactive=False, verbosity=0)
    count = 100_000 if quick else 1_000_000
    client = _tenant()
    _contract(client)
    load_start = time.perf_counter()
    loaded = _load_calls(client, count)
    evidence_loaded = _load_evidence(client)
    load_s = time.perf_counter() - load_start
    last = MONTH + dt.timedelta(days=DAYS - 1)
    with tenant_context(client):
        Statistic.objects.all().delete()
        first_build = _timed(lambda: stats.build_days(first=MONTH, last=last))
        rebuild = _timed(lambda: stats.build_days(first=MONTH, last=last))
        rows = Statistic.objects.count()
        Invoice.objects.filter(state="draft").delete()
        invoice_s = _timed(lambda: billing.invoice_build(month=MONTH), repeat=3)
        invoice = Invoice.objects.get(period_start=MONTH)
        _, key = api_key_create(name="bench", scopes=["read_reports"])
        day_start = dt.datetime.combine(MONTH + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        replay_start = time.perf_counter()
        replayed = evidence.replay(start=day_start, end=day_start + dt.timedelta(days=1))
        replay_s = time.perf_counter() - replay_start
    http = HttpClient(HTTP_HOST=client.host, HTTP_AUTHORIZATION=f"Bearer {key}")
    params = {
        "granularity": "day",
        "dimension": "queue",
        "day_from": MONTH,
        "day_to": last,
        "page_size": 1000,
    }

    def api() -> None:
        response = http.get("/api/v1/statistics/", params)
        assert response.status_code == 200 and len(response.json()["results"]) == DAYS * QUEUES + DAYS

    api()
    api_ms = _timed(api, repeat=20) * 1000
    return {
        "calls": count,
        "loaded_now": loaded,
        "evidence_loaded_now": evidence_loaded,
        "replay_day_s": round(replay_s, 3),
        "replay_day_calls": replayed.calls,
        "replay_day_differences": len(replayed.differences),
        "load_s": round(load_s, 2),
        "stats_build_s": round(first_build, 3),
        "stats_rebuild_s": round(rebuild, 3),
        "statistic_rows": rows,
        "invoice_s": round(invoice_s, 3),
        "invoice_total": str(invoice.total),
        "invoice_lines": invoice.lines.count(),
        "api_daily_month_ms": round(api_ms, 2),
        "goal_stats_s": 10.0,
        "goal_invoice_s": 3.0,
        "goal_api_ms": 100.0,
    }
