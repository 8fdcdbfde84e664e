"""Many client companies on one database (issue 23): 1,000 companies with their schemas.

- ``migrate_nothing_s``: ``migrate_schemas --executor=multiprocessing`` with nothing to apply
  (goal ≤ 120 s), and ``migrate_one_schema_s``: what one schema costs when it is migrated
  (Django's migrate in that schema, nothing to apply), the serial figure the skip avoids;
  ``migrate_public_only_change_s``: the same when every schema lacks the record of a public-only
  migration (recorded without running Django's migrate in each);
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


def _in_child(database: str, what: str, companies: int = COMPANIES) -> dict[str, object]:
    """Run ``what`` of this module in a fresh process on ``database`` (Django is set up once per
    process, on one database)."""
    import json

    env = {**os.environ, "BENCH_SCALE_DATABASE": database, "BENCH_SCALE_COMPANIES": str(companies)}
    out = subprocess.run(
        [sys.executable, "-c", f"import bench.migrate as m, json; print(json.dumps(m.{what}()))"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def populate() -> dict[str, object]:
    """The companies of ``DATABASE`` (made once); what their creation cost, first ten and last ten."""
    _setup(DATABASE)
    made = ensure_companies(COMPANIES)
    return {"made": len(made), "first_10_s": made[:10], "last_10_s": made[-10:]}


def creation() -> dict[str, object]:
    """Creating a company where ``DATABASE`` holds its companies (median of a few, each dropped)."""
    _setup(DATABASE)
    from tenants.models import Client

    ensure_companies(COMPANIES)
    return {"companies": Client.objects.companies().count(), "create_s": _time_creation(REPEAT)}


def one_schema() -> dict[str, object]:
    """Django's migrate in one current schema, as every schema cost before the skip (median of 3)."""
    _setup(DATABASE)
    import io
    from contextlib import redirect_stdout

    from django_tenants.migration_executors.base import run_migrations
    from django_tenants.utils import get_tenant_base_migrate_command_class

    parser = get_tenant_base_migrate_command_class()().create_parser("manage.py", "migrate")
    options = vars(parser.parse_args(["--noinput", "-v", "0"]))
    seconds = []
    for index in range(3):
        start = time.perf_counter()
        with redirect_stdout(io.StringIO()):
            run_migrations((), options, "standard", f"t_sc_{index:04d}")
        seconds.append(time.perf_counter() - start)
    return {"migrate_one_schema_s": round(statistics.median(seconds), 3)}


def reads() -> dict[str, object]:
    """The wallboard's locks, and a connection's memory after serving every company."""
    _setup(DATABASE)
    from django.db import connection, transaction
    from django.test import override_settings

    from console import wallboard
    from tenants.models import Client
    from tenants.postgresql_backend.base import DatabaseWrapper

    schemas = sorted(Client.objects.companies().values_list("schema_name", flat=True))

    def relation_locks(cursor) -> int:
        cursor.execute("SELECT COUNT(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation'")
        return cursor.fetchone()[0]

    with transaction.atomic(), connection.cursor() as cursor:
        wallboard.forget_company_settings()
        start = time.perf_counter()
        wallboard.unscoped_company_days(set(schemas))
        wallboard_ms = (time.perf_counter() - start) * 1000
        locks = relation_locks(cursor)
    quote = connection.ops.quote_name
    parts = [
        f"(SELECT timezone FROM {quote(s)}.calls_telephonysettings ORDER BY id LIMIT 1)" for s in schemas
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts))  # what the wallboard read before
        union_locks = relation_locks(cursor)

    with connection.cursor() as cursor:  # about what a request reads: every 8th tenant table
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'tenant_base' ORDER BY tablename")
        tables = [row[0] for row in cursor.fetchall()][::8]

    def served_every_company(limit: int) -> float:
        """MB of memory the connection holds (max seen) while serving each schema in turn."""
        settings_dict = {**connection.settings_dict, "CONN_MAX_AGE": 600}
        settings_dict["OPTIONS"] = {k: v for k, v in settings_dict["OPTIONS"].items() if k != "pool"}
        db = DatabaseWrapper(settings_dict, alias=f"bench-{limit}")
        most = 0
        with override_settings(DB_RECYCLE_AFTER_SCHEMAS=limit):
            for schema in schemas:
                db.set_schema(schema)
                with db.cursor() as cursor:
                    for table in tables:
                        cursor.execute(f"SELECT 1 FROM {quote(table)} LIMIT 1")
                    cursor.execute("SELECT SUM(total_bytes) FROM pg_backend_memory_contexts")
                    most = max(most, int(cursor.fetchone()[0]))
                db.close_if_unusable_or_obsolete()
        db.close()
        return round(most / 2**20, 1)

    return {
        "wallboard_locks": locks,
        "wallboard_read_ms": round(wallboard_ms, 1),
        "union_all_locks": union_locks,
        "connection_mb_served_every_company": served_every_company(0),
        "connection_mb_recycled_max": served_every_company(100),
        "recycle_after_schemas": 100,
    }


def forget_a_public_migration() -> dict[str, object]:
    """Every company's schema as it was before this checkout's public-only migration (the latest of
    the ``tenants`` app): a deploy that changes ``public`` only, as ``migrate_schemas`` sees it."""
    _setup(DATABASE)
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    from tenants.models import Client

    app, name = max(key for key in MigrationLoader(None).graph.leaf_nodes() if key[0] == "tenants")
    with connection.cursor() as cursor:
        for schema in Client.objects.companies().values_list("schema_name", flat=True):
            table = f"{connection.ops.quote_name(schema)}.django_migrations"
            cursor.execute(f"DELETE FROM {table} WHERE app = %s AND name = %s", [app, name])
    return {"forgotten": f"{app}.{name}"}


def _migrate(executor: str) -> float:
    env = {**os.environ, "DATABASE_NAME": DATABASE, "DJANGO_ENV": "development", "DJANGO_DEBUG": "0",
           "DB_POOL_SIZE": "10"}  # fmt: skip
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "manage.py", "migrate_schemas", f"--executor={executor}", "--noinput", "-v", "0"],
        cwd=ROOT, env=env, check=True,
    )  # fmt: skip
    return round(time.perf_counter() - start, 2)


REPEAT = int(os.environ.get("BENCH_SCALE_REPEAT", "9"))


def run(quick: bool) -> dict[str, object]:
    global REPEAT
    if quick:
        REPEAT = 5
    os.environ["BENCH_SCALE_REPEAT"] = str(REPEAT)
    small = os.environ.get("BENCH_SCALE_SMALL_DATABASE", "bench_scale_10")
    _in_child(DATABASE, "populate")
    _in_child(DATABASE, "forget_a_public_migration")
    public_change = _migrate("multiprocessing")
    nothing_parallel = _migrate("multiprocessing")
    nothing_standard = _migrate("standard")
    one = _in_child(DATABASE, "one_schema")
    at_small = _in_child(small, "creation", companies=10)
    at_large = _in_child(DATABASE, "creation")
    return {
        "companies": at_large["companies"],
        "migrate_public_only_change_s": public_change,
        "migrate_nothing_s": nothing_parallel,
        "migrate_nothing_standard_executor_s": nothing_standard,
        **one,
        "migrate_every_schema_serial_estimate_s": round(
            one["migrate_one_schema_s"] * at_large["companies"], 1
        ),
        "goal_migrate_nothing_s": 120,
        "create_at_10_s": round(at_small["create_s"], 3),
        f"create_at_{at_large['companies']}_s": round(at_large["create_s"], 3),
        "create_ratio": round(at_large["create_s"] / at_small["create_s"], 2),
        **_in_child(DATABASE, "reads"),
        "note": "2-core machine shared with other work: absolute times are noisy, compare within one run",
    }
