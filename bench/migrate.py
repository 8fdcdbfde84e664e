"""Many client companies on one database (issue 23): 1,000 companies with their schemas.

- ``migrate_nothing_s``: ``migrate_schemas --executor=multiprocessing`` with nothing to apply
  (goal ≤ 120 s), and ``migrate_one_schema_s``: what one schema costs when it is migrated
  (Django's migrate in that schema, nothing to apply), the serial figure the skip avoids;
- ``create_at_10_s`` / ``create_at_1000_s``: creating a company (median) in a database with 10
  companies and in one with 1,000 (goal: flat);
- ``wallboard_locks``: locks the wallboard's cross-company read holds (was one UNION ALL over every
  schema: ``union_all_locks``);
- ``catalogue_cache_mb_*``: a connection's catalogue cache after it has served every company, and
  at most with connections recycled after ``DB_RECYCLE_AFTER_SCHEMAS`` schemas.

Companies are made once (``COMPANIES``) in their own database (``bench_scale``, ``bench_scale_10``)
on the configured server (embedded by default) and kept for later runs.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPANIES = int(os.environ.get("BENCH_SCALE_COMPANIES", "1000"))
DATABASE = os.environ.get("BENCH_SCALE_DATABASE", "bench_scale")


def _setup(database: str) -> None:
    from bench._django import setup

    os.environ.setdefault("DB_POOL_SIZE", "0")
    setup(database)


def ensure_companies(count: int) -> list[float]:
    """``count`` companies (``sc-0000`` …); returns the seconds each one made now took."""
    from django.core.management import call_command

    from tenants.clients import client_create, ensure_platform
    from tenants.models import Client

    call_command("migrate_schemas", interactive=False, verbosity=0)
    ensure_platform()
    existing = Client.objects.filter(slug__startswith="sc-").count()
    seconds = []
    for index in range(existing, count):
        start = time.perf_counter()
        client_create(slug=f"sc-{index:04d}", name=f"Scale {index}", status=Client.Status.ACTIVE)
        seconds.append(time.perf_counter() - start)
    return seconds


def _time_creation(repeat: int) -> float:
    from django.db import connection

    from tenants.clients import client_create

    seconds = []
    for _ in range(repeat):
        slug = f"tmp-{uuid.uuid4().hex[:10]}"
        start = time.perf_counter()
        client = client_create(slug=slug, name=slug)
        seconds.append(time.perf_counter() - start)
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA "{client.schema_name}" CASCADE')
        client.domains.all().delete()
        type(client).objects.filter(pk=client.pk).delete()
    return statistics.median(seconds)


def _in_child(database: str, what: str) -> dict[str, object]:
    """Run ``what`` of this module in a fresh process on ``database`` (Django set up once per db)."""
    import json

    env = {**os.environ, "BENCH_SCALE_DATABASE": database}
    out = subprocess.run(
        [sys.executable, "-c", f"import bench.migrate as m, json; print(json.dumps(m.{what}()))"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def populate() -> dict[str, object]:
    _setup(DATABASE)
    made = ensure_companies(COMPANIES)
    return {"made": len(made), "first_10_s": made[:10], "last_10_s": made[-10:]}


if __name__ == "__main__":
    print(populate())
