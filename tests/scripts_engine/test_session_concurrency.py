"""Two consoles answering the same question at once: the row lock lets exactly one answer in."""

from __future__ import annotations

import threading
import uuid

from django.db import connection, transaction
from django_tenants.utils import tenant_context

from scripts_engine import sessions
from scripts_engine.models import ScriptAnswer, ScriptSession
from tests.scripts_engine.conftest import active_script


def test_simultaneous_answers_to_one_question_store_exactly_one(committed, tenants):
    version, _ = active_script(tenants.alpha, name=f"Hotline {uuid.uuid4().hex[:6]}")
    with tenant_context(tenants.alpha):
        session = sessions.session_start(script=version.script, kind="call")
        sessions.session_ack(session=session, node_id="greeting")
    barrier = threading.Barrier(4)
    errors: list[str | None] = []

    def answer(value: str) -> None:
        try:
            with tenant_context(tenants.alpha):
                mine = ScriptSession.objects.get(pk=session.pk)
                barrier.wait()
                _, error = sessions.session_answer(session=mine, node_id="topic", raw=value)
                errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=answer, args=(v,)) for v in ("billing", "returns", "other", "billing")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors.count(None) == 1
    assert all("no longer the current step" in e for e in errors if e is not None)
    with tenant_context(tenants.alpha):
        assert ScriptAnswer.objects.filter(session_id=session.pk, node_id="topic").count() == 1


def test_locking_a_session_does_not_lock_its_script_version(committed, tenants):
    """Every live call's session shares its script's version row: locking a session must not lock
    that row too (``FOR UPDATE`` of a join locks both), or consoles of different calls wait on each
    other, and three of them deadlocked in the outbound end-to-end test (a 500 on /console/calls)."""
    version, _ = active_script(tenants.alpha, name=f"Hotline {uuid.uuid4().hex[:6]}")
    with tenant_context(tenants.alpha):
        first = sessions.session_start(script=version.script, kind="call")
        second = sessions.session_start(script=version.script, kind="call")
    locked = threading.Event()
    release = threading.Event()

    def hold_first() -> None:
        try:
            with tenant_context(tenants.alpha), transaction.atomic():
                sessions.session_step(session=first)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_first)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        with tenant_context(tenants.alpha), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            sessions.session_step(session=second)  # waited for the first's lock (and timed out) before
    finally:
        release.set()
        holder.join(timeout=30)
