"""The schema's search path travels with the first statement that needs it (tenants.postgresql_backend)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import SimpleNamespace

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenants.postgresql_backend.base import Cursor


@contextlib.contextmanager
def table(ddl: str) -> Iterator[None]:
    """A committed table of the test's own (``CREATE TABLE <ddl>``), dropped afterwards."""
    name = ddl.split()[0]
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {ddl}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {name}")


def schema_now() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return cursor.fetchone()[0]


def test_the_search_path_goes_with_the_first_statement_in_one_round_trip(db, tenants):
    connection.set_tenant(tenants.alpha)
    with CaptureQueriesContext(connection) as captured:
        assert schema_now() == tenants.alpha.schema_name
        assert schema_now() == tenants.alpha.schema_name  # set once: nothing sent again
    path = f'SET search_path = "{tenants.alpha.schema_name}","public"'
    # The first statement of the test's transaction: psycopg's BEGIN travels with it too.
    first = f"BEGIN; {path}; SELECT current_schema()"
    assert [q["sql"] for q in captured] == [first, "SELECT current_schema()"]
    assert connection.search_path_set_schemas == [tenants.alpha.schema_name, "public"]
    assert isinstance(connection.connection.cursor(), Cursor)


def test_alternating_tenants_each_read_their_own_schema(db, tenants):
    for tenant in (tenants.alpha, tenants.beta, tenants.alpha):
        connection.set_tenant(tenant)
        assert schema_now() == tenant.schema_name
    connection.set_schema_to_public()
    assert schema_now() == "public"


def test_a_statement_that_fails_forgets_the_path_a_statement_that_runs_sets_it(db):
    raw = connection.connection  # the test's transaction: each case in a savepoint of its own
    owner = SimpleNamespace(search_path_set_schemas=["stale"], _get_cursor_search_paths=lambda: ["public"])
    for statement, error in (("SELECT 1 / 0", psycopg.errors.DivisionByZero), ("SELECT 1", None)):
        raw.execute("SAVEPOINT probe")
        cursor = raw.cursor()
        cursor.pending = (owner, 'SET search_path = "public"', ["public"])
        if error:
            with pytest.raises(error):
                cursor.execute(statement)
            assert owner.search_path_set_schemas is None  # the SET went down with the statement
        else:
            assert cursor.execute(statement).fetchone() == (1,)
            assert owner.search_path_set_schemas == ["public"]
        assert cursor.pending is None
        raw.execute("ROLLBACK TO SAVEPOINT probe")


def test_results_and_row_counts_are_the_statements_own(db, tenants):
    connection.set_tenant(tenants.alpha)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE probe (n int)")
    connection.set_tenant(tenants.beta)  # the next statement carries a SET again
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO probe VALUES (1), (2), (3)")
        assert cursor.rowcount == 3
    connection.set_tenant(tenants.alpha)
    with connection.cursor() as cursor:
        cursor.execute("SELECT n FROM probe WHERE n > %s ORDER BY n", [1])
        assert cursor.fetchall() == [(2,), (3,)]
        assert [c.name for c in cursor.description] == ["n"]


def test_executemany_and_copy_run_in_the_tenants_schema(db, tenants):
    connection.set_tenant(tenants.alpha)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE probe (s text)")
    connection.set_tenant(tenants.beta)
    with connection.cursor() as cursor:
        cursor.executemany("INSERT INTO probe SELECT current_schema() || %s", [("-a",), ("-b",)])
    connection.set_tenant(tenants.alpha)
    with connection.cursor() as cursor, cursor.cursor.copy("COPY probe FROM STDIN") as copy:
        copy.write_row(["copied"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT s FROM probe ORDER BY s")
        schema = tenants.beta.schema_name
        assert [r[0] for r in cursor.fetchall()] == ["copied", f"{schema}-a", f"{schema}-b"]


def test_a_cursor_opened_before_a_switch_never_makes_the_next_tenant_read_the_old_schema(db, tenants):
    connection.set_tenant(tenants.alpha)
    with connection.cursor() as opened_in_alpha:
        connection.set_tenant(tenants.beta)
        opened_in_alpha.execute("SELECT current_schema()")
        assert opened_in_alpha.fetchone()[0] == tenants.alpha.schema_name  # where it was opened
        assert connection.search_path_set_schemas is None
    assert schema_now() == tenants.beta.schema_name


def test_the_begin_of_a_transaction_travels_with_the_set_and_its_isolation_level_holds(db, tmp_path):
    raw = connection.get_new_connection(connection.get_connection_params())  # not in autocommit
    try:
        raw.isolation_level = psycopg.IsolationLevel.SERIALIZABLE
        trace = tmp_path / "libpq.trace"
        with trace.open("w") as out:
            raw.pgconn.trace(out.fileno())
            owner = SimpleNamespace(search_path_set_schemas=None, _get_cursor_search_paths=lambda: ["public"])
            cursor = raw.cursor()
            cursor.pending = (owner, 'SET search_path = "public"', ["public"])
            cursor.execute("SELECT current_setting('transaction_isolation'), current_schema()")
            assert cursor.fetchone() == ("serializable", "public")  # the statement's own result
            assert raw.pgconn.transaction_status == psycopg.pq.TransactionStatus.INTRANS
            assert owner.search_path_set_schemas == ["public"]
            cursor.execute("CREATE TEMPORARY TABLE probe (n int) ON COMMIT DROP")
            raw.pgconn.untrace()
        sent = [line for line in trace.read_text().splitlines() if "\tF\t" in line and "\tQuery\t" in line]
        assert len(sent) == 2, sent  # BEGIN, SET and the SELECT in one query; then the CREATE
        assert 'Query\t "BEGIN ISOLATION LEVEL SERIALIZABLE; SET search_path = "public"; SELECT' in sent[0]
        raw.rollback()  # the transaction was real: the table went with it
        assert raw.execute("SELECT to_regclass('pg_temp.probe')").fetchone() == (None,)
        assert not raw.autocommit
    finally:
        raw.close()


def test_a_first_statement_that_fails_leaves_a_transaction_django_rolls_back(committed, tenants):
    from django.db import DatabaseError, transaction

    connection.set_tenant(tenants.alpha)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT 1 / 0")
    assert connection.search_path_set_schemas is None
    assert schema_now() == tenants.alpha.schema_name  # the connection goes on, the path set again
    assert connection.connection.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_a_read_after_commit_goes_with_the_commit_and_sees_what_committed_meanwhile(committed, tmp_path):
    from django.db import transaction

    other = connection.get_new_connection(connection.get_connection_params())
    ran: list[object] = []
    with table("probe_after_commit (n int)"), contextlib.closing(other):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO probe_after_commit VALUES (1)")
            read = connection.read_after_commit(
                "SELECT count(*) FROM probe_after_commit WHERE n >= %s", [1], load=int
            )
            transaction.on_commit(lambda: ran.append(read.value))  # the hooks have the value
            # Another transaction commits after this one's last statement, before its commit.
            other.execute("INSERT INTO probe_after_commit VALUES (2)")
            other.commit()
            trace = tmp_path / "libpq.trace"
            out = trace.open("w")
            connection.connection.pgconn.trace(out.fileno())
            assert read.value is None  # not before the commit
        connection.connection.pgconn.untrace()
        out.close()
        assert read.value == 2 and ran == [2]  # its own row and the other's
        sent = [line for line in trace.read_text().splitlines() if "\tF\t" in line and "\tQuery\t" in line]
        assert len(sent) == 1 and '"COMMIT; SELECT count(*) FROM probe_after_commit WHERE n >= 1"' in sent[0]
        assert connection.connection.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert connection.read_after_commit("SELECT 1", []) is None  # outside a transaction


def test_a_commit_that_fails_raises_and_its_read_and_hooks_never_run(committed):
    from django.db import IntegrityError, transaction

    ran: list[object] = []
    with table("probe_deferred (n int UNIQUE DEFERRABLE INITIALLY DEFERRED)"):
        atomic = transaction.atomic()
        atomic.__enter__()
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO probe_deferred VALUES (1), (1)")  # checked at COMMIT
        read = connection.read_after_commit("SELECT 1", [])
        transaction.on_commit(lambda: ran.append(read.value))
        with pytest.raises(IntegrityError):
            atomic.__exit__(None, None, None)
        assert read.value is None and ran == [] and connection.reads_after_commit == []
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM probe_deferred")
            assert cursor.fetchone() == (0,)  # nothing of the failed transaction was kept
        with transaction.atomic():
            connection.read_after_commit("SELECT 1", [])
            transaction.set_rollback(True)
        assert connection.reads_after_commit == []  # a rollback forgets them


def test_a_read_that_fails_after_the_commit_leaves_the_commit_done_and_its_value_unknown(committed):
    from django.db import transaction

    ran: list[object] = []
    with table("probe_kept (n int)"):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO probe_kept VALUES (1)")
            failing = connection.read_after_commit("SELECT 1 / 0", [])
            after = connection.read_after_commit("SELECT 2", [], load=int)
            transaction.on_commit(lambda: ran.append((failing.value, after.value)))
        assert ran == [(None, None)]  # the hook runs; it reads for itself what is unknown
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM probe_kept")
            assert cursor.fetchone() == (1,)
