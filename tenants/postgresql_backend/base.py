"""django-tenants' PostgreSQL backend, with connections recycled once they have served many schemas.

PostgreSQL keeps, per server connection, a cache of every table it has opened: a connection that
has served every company's schema holds hundreds of MB (issue 23 measured 160 to 700 MB at 1,000
companies), and a pooled connection lives on. So a connection that has served
``DB_RECYCLE_AFTER_SCHEMAS`` schemas is closed for good at its next release (end of request or
task, return to the pool) instead of being kept; the pool's ``max_lifetime``
(``DB_POOL_MAX_LIFETIME``), or ``CONN_MAX_AGE`` without a pool, bounds its age as well.
"""

from __future__ import annotations

from django.conf import settings
from django_tenants.postgresql_backend import base

from tenants.postgresql_backend.recycling import retired, schemas_served, served


def _limit() -> int:
    return int(getattr(settings, "DB_RECYCLE_AFTER_SCHEMAS", 0) or 0)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        raw = super().get_new_connection(conn_params)
        served.setdefault(raw, set()).add(self.schema_name)
        return raw

    def set_tenant(self, tenant, include_public=True) -> None:
        super().set_tenant(tenant, include_public)
        if self.connection is not None:
            served.setdefault(self.connection, set()).add(tenant.schema_name)

    def worn_out(self) -> bool:
        """Whether the open connection has served more schemas than it may keep caches of."""
        limit = _limit()
        return bool(limit) and self.connection is not None and schemas_served(self.connection) >= limit

    def close(self) -> None:
        if self.worn_out() and not self.in_atomic_block:
            raw = self.connection
            retired.add(raw)
            raw.close()  # a pool then opens a fresh one in its place
        super().close()

    def close_if_unusable_or_obsolete(self) -> None:
        if self.worn_out() and not self.in_atomic_block:
            self.close()
            return
        super().close_if_unusable_or_obsolete()
