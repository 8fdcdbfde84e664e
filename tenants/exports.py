"""Export of a client company's data (every table of its schema) to a tenant-prefixed JSON file."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from tenants.models import Client


def export_client_data(*, client: Client) -> Path:
    """Write ``MEDIA_ROOT/exports/<schema>/<timestamp>.json`` with all rows of the client's schema."""
    tables: dict[str, list[object]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = %s AND table_type = 'BASE TABLE' ORDER BY table_name",
            [client.schema_name],
        )
        names = [row[0] for row in cursor.fetchall()]
        for name in names:
            qualified = f"{connection.ops.quote_name(client.schema_name)}.{connection.ops.quote_name(name)}"
            cursor.execute(f"SELECT row_to_json(t) FROM {qualified} AS t")  # noqa: S608 (quoted identifiers)
            tables[name] = [row[0] for row in cursor.fetchall()]
    folder = Path(settings.MEDIA_ROOT) / "exports" / client.schema_name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{timezone.now():%Y%m%dT%H%M%S%f}.json"
    document = {"client": {"slug": client.slug, "name": client.name, "schema": client.schema_name},
                "exported_at": timezone.now().isoformat(), "tables": tables}  # fmt: skip
    path.write_text(json.dumps(document, indent=1, default=str))
    return path
