"""Connections recycled (issue 23): one that has served DB_RECYCLE_AFTER_SCHEMAS schemas is closed
at its next release, pooled or persistent, so PostgreSQL's per-connection catalogue caches stay
bounded; one that keeps serving the same few schemas is kept."""

from __future__ import annotations

import logging
import uuid

import pytest
from django.db import connection
from django.test import override_settings

from tenants.postgresql_backend.base import DatabaseWrapper
from tenants.postgresql_backend.recycling import RecycledConnectionFilter


@pytest.fixture
def wrapper(db):
    made = []

    def make(*, pool: bool) -> DatabaseWrapper:
        options = {k: v for k, v in connection.settings_dict["OPTIONS"].items() if k != "pool"}
        if pool:
            options["pool"] = {"min_size": 1, "max_size": 1, "timeout": 10}
        settings_dict = {**connection.settings_dict, "OPTIONS": options, "CONN_MAX_AGE": 0 if pool else 600}
        made.append(DatabaseWrapper(settings_dict, alias=f"recycle-{uuid.uuid4().hex[:6]}"))
        return made[-1]

    yield make
    for one in made:
        one.close()
        if one.settings_dict["OPTIONS"].get("pool"):
            one.close_pool()


def _served_by(wrapper: DatabaseWrapper, schema: str) -> int:
    """One unit of work in ``schema`` (a request, a task), then the connection is released."""
    wrapper.set_schema(schema)
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    wrapper.close_if_unusable_or_obsolete()  # what Django does at the end of a request or task
    return pid


@override_settings(DB_RECYCLE_AFTER_SCHEMAS=3)
@pytest.mark.parametrize("pool", [True, False], ids=["pooled", "persistent"])
def test_a_connection_that_served_many_schemas_is_replaced_and_one_that_did_not_is_kept(
    tenants, wrapper, pool, caplog
):
    caplog.set_level(logging.INFO, logger="psycopg.pool")
    db = wrapper(pool=pool)
    same = {_served_by(db, tenants.alpha.schema_name) for _ in range(6)}
    assert len(same) == 1  # one schema, again and again: kept

    pids = [_served_by(db, schema) for schema in ["public", tenants.beta.schema_name, "tenant_base"]]

    # alpha, public, then beta: the third schema is served, then the connection is closed
    assert pids[0] == pids[1] == next(iter(same))
    assert pids[2] != pids[1]
    assert _served_by(db, tenants.alpha.schema_name) == pids[2]  # the new one has served two
    assert not [r for r in caplog.records if "discarding closed connection" in r.getMessage()]


@override_settings(DB_RECYCLE_AFTER_SCHEMAS=0)
def test_recycling_can_be_turned_off(tenants, wrapper):
    db = wrapper(pool=True)
    pids = {_served_by(db, f"t_{n}") for n in range(20)}
    assert len(pids) == 1


def test_the_pools_warning_is_dropped_only_for_connections_retired_on_purpose(tenants, wrapper):
    from tenants.postgresql_backend import recycling

    class Conn:
        pass

    ours, other = Conn(), Conn()
    recycling.retired.add(ours)
    message = "discarding closed connection: %s"
    make = logging.LogRecord
    assert not RecycledConnectionFilter().filter(
        make("psycopg.pool", logging.WARNING, "", 0, message, (ours,), None)
    )
    assert RecycledConnectionFilter().filter(
        make("psycopg.pool", logging.WARNING, "", 0, message, (other,), None)
    )
