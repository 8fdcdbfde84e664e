"""Entering a schema only when the connection is not in it already.

django-tenants SETs the search path again at the next statement after every switch, into a schema
and back out of it, even to the schema the connection was in: a round trip each. The call's path
nests them (a webhook in the company's schema reaches code that enters that company again, or the
public schema from the platform's), so these leave the connection as it is when it is there already.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

from tenants.models import Client


@contextmanager
def company_context(tenant: Client) -> Iterator[None]:
    """``tenant_context(tenant)``, or nothing when the connection is in that company's schema (for
    that very company, with the public schema behind it) already."""
    current = connection.tenant
    if (
        isinstance(current, Client)
        and current.pk == tenant.pk
        and connection.schema_name == tenant.schema_name
        and connection.include_public_schema
    ):
        yield
        return
    with tenant_context(tenant):
        yield


@contextmanager
def public_context() -> Iterator[None]:
    """``schema_context`` of the public schema, or nothing when the connection is there already."""
    if connection.schema_name == get_public_schema_name():
        yield
        return
    with schema_context(get_public_schema_name()):
        yield
