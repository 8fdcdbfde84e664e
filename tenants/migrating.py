"""Migrating a thousand schemas: in parallel, safely, and not at all where nothing is to apply.

``migrate_schemas --executor=multiprocessing`` (django-tenants' own executor) forks workers that
each set their schema and open their own connection. Two things make that safe here:

- **no pool while migrating** (``unpooled_connections``): a forked worker inherits the parent's
  pool, whose connections (sockets, search paths) the workers would then share: it hung, and
  recorded migrations in another worker's schema. Migrations open a plain connection per schema
  and close it (``CONN_MAX_AGE=0``);
- **schemas already current are skipped** (``pending_schemas``): Django's migrate costs ~0.5 s per
  schema even with nothing to apply (it renders the project state and runs post-migrate), so
  each schema's ``django_migrations`` is first compared with the migrations on disk, 200 schemas
  per statement, and only the schemas missing one are handed to the executor. A migration of a
  public-only app (which does nothing in a company's schema) is recorded there directly.

Selected by ``GET_EXECUTOR_FUNCTION`` (a django-tenants setting) and used by this project's
``migrate_schemas``/``migrate`` commands.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.apps import apps
from django.conf import settings
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django_tenants.migration_executors import get_executor

from tenants import sql


@contextmanager
def unpooled_connections(alias: str) -> Iterator[None]:
    """Inside, ``alias`` connects without the pool and closes after use (this process and the
    workers it forks): the pool's connections must never be shared across processes. The pool is
    back afterwards, for whatever the process does next."""
    connection = connections[alias]
    options = connection.settings_dict.setdefault("OPTIONS", {})
    pool, max_age = options.get("pool"), connection.settings_dict.get("CONN_MAX_AGE", 0)
    if pool:
        connection.close()
        connection.close_pool()
        del options["pool"]
    connection.settings_dict["CONN_MAX_AGE"] = 0
    try:
        yield
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = max_age
        if pool:
            connection.close()  # the plain connection: the next one comes from the pool again
            options["pool"] = pool


def migrations_on_disk() -> set[str]:
    """Every migration of the installed apps, as ``app.name`` (what ``django_migrations`` holds once
    a schema is current; squashed migrations as Django's graph has them)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return {f"{app}.{name}" for app, name in loader.graph.nodes}


def tenant_app_labels() -> set[str]:
    """The apps whose tables live in a company's schema; the others' migrations do nothing there
    (django-tenants' router refuses every operation of theirs), Django only records them."""
    return {config.label for config in apps.get_app_configs() if config.name in settings.TENANT_APPS}


def pending_schemas(schemas: Iterable[str], *, alias: str = "default", record: bool = True) -> list[str]:
    """The schemas (in the given order) missing a migration on disk, or their ``django_migrations``.

    Read in statements of ``sql.SCHEMAS_A_STATEMENT`` schemas, each committed on its own so its
    locks are let go. A schema missing only migrations of apps that have no tables there (a change
    to ``public``) gets them recorded here, as Django's migrate would have after doing nothing, and
    is not pending.
    With ``record=False`` nothing is written and such a schema is pending.
    """
    schemas = list(schemas)
    if not schemas:
        return []
    wanted = sorted(migrations_on_disk())
    tenant_apps = tenant_app_labels()
    connection = connections[alias]
    current: set[str] = set()
    with connection.cursor() as cursor:
        recorded = sql.schemas_with_table(cursor, schemas=schemas, table="django_migrations")
        known = [s for s in schemas if s in recorded]
        for batch in sql.batches(known):
            for schema, missing in sql.missing_migrations(cursor, schemas=batch, wanted=wanted):
                if missing and (not record or any(key.split(".", 1)[0] in tenant_apps for key in missing)):
                    continue
                if missing:
                    sql.record_migrations(cursor, schema=schema, keys=missing)
                current.add(schema)
    return [s for s in schemas if s not in current]


class SkipCurrentSchemas:
    """Mixed into a django-tenants executor: hands it only the schemas with something to apply.

    Skips nothing when asked for one app's migration (forwards or back) or to prune: those need
    Django's own plan in every schema."""

    def run_migrations(self, tenants=None) -> None:
        tenants = list(tenants or [])
        if self.options.get("app_label") or self.options.get("prune"):
            return super().run_migrations(tenants=tenants)
        public = [t for t in tenants if t == self.PUBLIC_SCHEMA_NAME]
        others = [t for t in tenants if t != self.PUBLIC_SCHEMA_NAME]
        dry = bool(self.options.get("plan") or self.options.get("check_unapplied"))
        pending = pending_schemas(others, alias=self.options.get("database") or "default", record=not dry)
        if int(self.options.get("verbosity", 1)) >= 1 and len(pending) < len(others):
            sys.stdout.write(f"{len(others) - len(pending)} of {len(others)} schemas are current: skipped.\n")
        if public or pending:
            super().run_migrations(tenants=public + pending)
        return None


_executors: dict[type, type] = {}


def executor_for(codename: str | None = None) -> type:
    """django-tenants' executor named ``codename`` (``standard``, ``multiprocessing``…), skipping the
    schemas that are current (``GET_EXECUTOR_FUNCTION``)."""
    base = get_executor(codename=codename)
    if base not in _executors:
        _executors[base] = type(f"Skipping{base.__name__}", (SkipCurrentSchemas, base), {})
    return _executors[base]
