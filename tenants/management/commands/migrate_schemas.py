"""migrate_schemas that also keeps the base schema (what new tenants are cloned from) current."""

from django.core.management import call_command
from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

from tenants import schemas


class Command(MigrateSchemasCommand):
    def handle(self, *args, **options) -> None:
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
