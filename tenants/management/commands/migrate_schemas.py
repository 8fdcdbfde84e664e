"""migrate_schemas that migrates safely in parallel and keeps the base schema current.

``--executor=multiprocessing`` runs the schemas in ``MIGRATION_PROCESSES`` forked workers; with any
executor, schemas that are already current are skipped (``tenants.migrating``) and migrations run
on plain connections, never the pool's. The base schema (what new tenants are cloned from) is
migrated last.
"""

from django.core.management import call_command
from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

from tenants import migrating, schemas


class Command(MigrateSchemasCommand):
    def handle(self, *args, **options) -> None:
        with migrating.unpooled_connections(options.get("database") or "default"):
            self._migrate(*args, **options)

    def _migrate(self, *args, **options) -> None:
        super().handle(*args, **options)
        if self.sync_tenant and not options.get("schema_name"):
            schemas.ensure_base_schema()
            call_command(
                "migrate_schemas",
                tenant=True,
                schema_name=schemas.base_schema_name(),
                interactive=False,
                verbosity=options.get("verbosity", 1),
                database=options.get("database", "default"),
            )
