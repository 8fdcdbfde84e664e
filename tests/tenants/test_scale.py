"""Many companies on one database (issue 23): parallel migrations recorded in the right schema,
current schemas skipped, and tenant creation that reads no catalogue once its template is made."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.migration_executors.multiproc import MultiprocessingExecutor
from django_tenants.migration_executors.standard import StandardExecutor

from tenants import migrating, schemas
from tenants.clients import client_create
from tenants.models import Client
from tests.conftest import ROOT


def _applied(schema: str) -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations')
        return cursor.fetchall()


def _has_table(schema: str, table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f'"{schema}".{table}'])
        return cursor.fetchone()[0]


def _drop(clients: list[Client]) -> None:
    connection.set_schema_to_public()
    for client in clients:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{client.schema_name}" CASCADE')
        client.domains.all().delete()
        Client.objects.filter(pk=client.pk).delete()


@pytest.fixture
def companies(committed):
    made: list[Client] = []

    def make(count: int) -> list[Client]:
        for _ in range(count):
            slug = f"mig-{uuid.uuid4().hex[:8]}"
            made.append(client_create(slug=slug, name=slug, status=Client.Status.ACTIVE))
        return made[-count:]

    yield make
    _drop(made)


def test_parallel_migrate_with_the_pool_on_records_each_migration_in_its_own_schema(companies):
    behind = companies(3)
    current = companies(1)[0]
    for client in behind:  # these three lack the quality app's migration (and its tables)
        call_command("migrate_schemas", "quality", "zero", schema_name=client.schema_name, verbosity=0)
        assert not _has_table(client.schema_name, "quality_score")
    public_before = sorted(_applied("public"))
    env = {**os.environ, "DATABASE_NAME": connection.settings_dict["NAME"], "DB_POOL_SIZE": "4",
           "MIGRATION_PROCESSES": "3", "DJANGO_ENV": "test"}  # fmt: skip

    run = subprocess.run(
        [sys.executable, "manage.py", "migrate_schemas", "--executor=multiprocessing", "--noinput"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert run.returncode == 0, run.stderr[-3000:]
    wanted = migrating.migrations_on_disk()
    for client in [*behind, current]:
        rows = _applied(client.schema_name)
        assert len(rows) == len(set(rows)), f"a migration recorded twice in {client.schema_name}"
        assert {f"{app}.{name}" for app, name in rows} >= wanted
        assert _has_table(client.schema_name, "quality_score")
    assert sorted(_applied("public")) == public_before  # nothing recorded in public for them
    lines = run.stdout.splitlines()
    started = {line.split(":")[1].split("]")[0] for line in lines if "Starting migration" in line}
    assert started - {"public"} == {c.schema_name for c in behind}  # the current ones were skipped
    assert "schemas are current: skipped" in run.stdout


def test_only_schemas_missing_a_migration_are_pending(companies):
    ok, behind, bare, public_change = companies(4)
    with connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{behind.schema_name}".django_migrations WHERE app = %s', ["quality"])
        cursor.execute(f'DROP TABLE "{bare.schema_name}".django_migrations')
        # a migration of a public-only app: nothing to do in a company's schema, only to record
        cursor.execute(
            f'DELETE FROM "{public_change.schema_name}".django_migrations WHERE app = %s', ["tenants"]
        )
    every = [ok.schema_name, behind.schema_name, bare.schema_name, public_change.schema_name]

    assert migrating.pending_schemas(every, record=False) == every[1:]
    assert migrating.pending_schemas(every) == [behind.schema_name, bare.schema_name]

    recorded = {f"{app}.{name}" for app, name in _applied(public_change.schema_name)}
    assert recorded >= migrating.migrations_on_disk()
    assert migrating.pending_schemas([ok.schema_name, schemas.base_schema_name()]) == []


def test_nothing_to_apply_spawns_no_migration(companies, monkeypatch):
    """django-tenants' executor is handed no schema (it would fork a worker and run Django's migrate
    in each, ~0.5 s a schema), not the companies', nor the base schema's at the end; a company
    behind is handed alone."""
    handed: list[list[str]] = []

    def record(self, tenants=None) -> None:
        handed.append(list(tenants or []))

    monkeypatch.setattr(MultiprocessingExecutor, "run_migrations", record)
    monkeypatch.setattr(StandardExecutor, "run_migrations", record)
    current, behind = companies(2)
    migrate = {"tenant": True, "executor": "multiprocessing", "interactive": False, "verbosity": 0}
    call_command("migrate_schemas", **migrate)
    assert handed == []
    with connection.cursor() as cursor:  # as if a migration on disk had not been applied there
        cursor.execute(f"DELETE FROM {behind.schema_name}.django_migrations WHERE app = 'calls'")
    call_command("migrate_schemas", **migrate)
    assert handed == [[behind.schema_name]] and current.schema_name not in handed[0]


def test_creating_a_company_reads_no_catalogue_once_the_template_is_made(companies):
    companies(1)  # the template exists for this migration state from here on
    with CaptureQueriesContext(connection) as queries:
        made = companies(1)[0]
    read = " ".join(q["sql"] for q in queries.captured_queries)
    assert "information_schema" not in read and "pg_attribute" not in read
    assert len(queries.captured_queries) < 40
    assert {f"{a}.{n}" for a, n in _applied(made.schema_name)} == {
        f"{a}.{n}" for a, n in _applied(schemas.base_schema_name())
    }


def test_a_new_migration_state_makes_a_new_template(companies):
    first = companies(1)[0]
    base = schemas.base_schema_name()
    with connection.cursor() as cursor:  # as if a migration had been applied to the base
        cursor.execute(
            f"INSERT INTO \"{base}\".django_migrations (app, name, applied) VALUES ('zz', 'probe', now())"
        )
    try:
        second = companies(1)[0]
        assert ("zz", "probe") in _applied(second.schema_name)
        assert ("zz", "probe") not in _applied(first.schema_name)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM \"{base}\".django_migrations WHERE app = 'zz'")


def test_no_foreign_key_leaves_a_companys_schema_so_it_can_move_to_another_database(db, tenants):
    """docs/scale.md §2: a company's schema moves whole to another database only if none of its
    tables refers to a table elsewhere (public's router tables, companies, numbers)."""
    from django.apps import apps
    from django.conf import settings

    labels = {c.label for c in apps.get_app_configs() if c.name in settings.TENANT_APPS}
    leaving = [
        f"{model._meta.label}.{field.name} → {field.related_model._meta.label}"
        for model in schemas.tenant_models()
        for field in model._meta.get_fields()
        if field.is_relation and field.concrete and field.related_model._meta.app_label not in labels
    ]
    assert leaving == []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint"
            " WHERE contype = 'f' AND connamespace = %s::regnamespace"
            " AND (SELECT relnamespace FROM pg_class WHERE oid = confrelid) <> connamespace",
            [tenants.alpha.schema_name],
        )
        assert cursor.fetchall() == []
