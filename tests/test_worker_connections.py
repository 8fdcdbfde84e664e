"""A prefork Celery worker keeps its pooled PostgreSQL connection from task to task (issue 23):
Celery's Django fixup would close the pool around every task (celery/celery#10554), a new
connection per task with its catalogue cache cold."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

from django.db import connection

from config.celery import app
from config.supervision import worker_command
from telephony.tasks import match_queues
from tests.conftest import ROOT, child_env


def _backends() -> set[int]:
    """The server processes connected to the test database now (this test's own left out)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else the transaction's first view
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        return {pid for (pid,) in cursor.fetchall()}


def test_a_prefork_workers_tasks_share_one_pooled_connection(db, tenants):
    queue = f"connections-{uuid.uuid4().hex[:8]}"
    command = worker_command(sys.executable, queues=[queue], concurrency=1,
                             extra=["-l", "WARNING", "-n", f"{queue}@%h"])  # fmt: skip
    assert "--pool" not in command and "-P" not in command  # prefork, as `manage.py run` starts it
    before = _backends()
    worker = subprocess.Popen(command, env=child_env(), cwd=ROOT)
    try:
        after_each: list[set[int]] = []
        for _ in range(6):
            result = match_queues.apply_async(args=[[0]], queue=queue, ignore_result=False)
            assert result.get(timeout=60) == 0  # a task that reads the database
            time.sleep(0.5)  # the task's end (its connection given back) comes after its result
            after_each.append(_backends() - before)
        kept = set.intersection(*after_each)
        assert kept, f"no connection of the worker lasted from its first task to its last: {after_each}"
        # Its pooled connection (a spare at most), not one a task.
        assert len(set.union(*after_each)) <= 2, after_each
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        app.control.purge()
