"""django-tenants' backend, with its ``SET search_path`` sent in the round trip of the statement that
needs it instead of one of its own.

django-tenants sets the schema's search path before the first statement of each tenant (every
company request, task and socket message that touches the database). Here the ``SET`` is held
by the cursor and sent in front of that first statement, both in one simple-protocol query
(psycopg's client-side binding cursor, Django's default); the cursor then moves to the statement's
own result. The path counts as set only once the server has run it; an error forgets it, as a
rollback does (the ``SET`` may have been undone with the statement).

When that statement opens a transaction (the first of an ``atomic`` block), its ``BEGIN`` goes in
the same query too, where psycopg would have sent it in a round trip of its own.

A read that must see the database as it is once the transaction has committed (has anyone changed
it meanwhile?) can travel with the ``COMMIT``: ``connection.read_after_commit``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql.base import Cursor as DjangoCursor
from django_tenants.postgresql_backend import base as tenants_base
from django_tenants.utils import get_limit_set_calls, quote_schema_name
from psycopg import ClientCursor, generators, pq
from psycopg import errors as pg_errors

# The statements the SET may travel with: queries and data changes.
DML = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)


class Cursor(DjangoCursor):
    """A client-side binding cursor that runs a pending ``SET search_path`` with its next statement."""

    pending: tuple[DatabaseWrapper, str, list[str]] | None = None

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Cursor:
        if self.pending is None:
            return super().execute(query, params, **kwargs)
        if not isinstance(query, str) or not DML.match(query):
            # A composed statement, or one that may not run in a transaction block (CREATE
            # DATABASE, VACUUM…), which two statements in one query are: the SET on its own first.
            self._flush()
            return super().execute(query, params, **kwargs)
        wrapper, statement, schemas = self.pending
        self.pending = None
        driver = self.connection
        begin = not driver.autocommit and driver.pgconn.transaction_status == pq.TransactionStatus.IDLE
        if begin:
            # The transaction's BEGIN (with its isolation level, as psycopg writes it) in front;
            # psycopg, which would send it on its own, is told the connection is in autocommit
            # for this one query, after which the server reports the transaction open.
            statement = f"{driver._get_tx_start_command().decode()}; {statement}"
            driver._autocommit = True
        try:
            super().execute(f"{statement}; {query}", params, **kwargs)
        except BaseException:
            wrapper.search_path_set_schemas = None
            raise
        finally:
            if begin:
                driver._autocommit = False
        for _ in range(2 if begin else 1):
            self.nextset()  # the statement's own result, not the BEGIN's or the SET's
        # Set, unless the connection switched schemas since this cursor was opened: then its next
        # cursor sets the new path (this one ran in the schema it was opened in, as before).
        wrapper.search_path_set_schemas = schemas if wrapper._get_cursor_search_paths() == schemas else None
        return self

    def _flush(self) -> None:
        if self.pending is not None:
            self.execute("SELECT 1")  # carries the SET

    def executemany(self, *args: Any, **kwargs: Any) -> Any:
        self._flush()
        return super().executemany(*args, **kwargs)

    def copy(self, *args: Any, **kwargs: Any) -> Any:
        self._flush()
        return super().copy(*args, **kwargs)

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        self._flush()
        return super().stream(*args, **kwargs)


class ReadAfterCommit:
    """A statement run just after the transaction commits; ``value``: its first column, loaded,
    once the transaction has committed (None until then, or when the read could not run)."""

    __slots__ = ("load", "statement", "value")

    def __init__(self, statement: bytes, load: Callable[[str | None], Any]) -> None:
        self.statement, self.load, self.value = statement, load, None


class DatabaseWrapper(tenants_base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads_after_commit: list[ReadAfterCommit] = []
        self._mogrifier: ClientCursor | None = None

    def read_after_commit(
        self, sql: str, params: Any, load: Callable[[str | None], Any] = lambda text: text
    ) -> ReadAfterCommit | None:
        """Run ``sql`` (one row) right after this transaction commits, in the ``COMMIT``'s round
        trip, with its own snapshot: it sees what transactions committing meanwhile wrote. ``load``
        turns the first column's text into the value. None outside a transaction (nothing to ride on).
        """
        if not self.in_atomic_block:
            return None
        self.ensure_connection()
        if self._mogrifier is None or self._mogrifier.connection is not self.connection:
            self._mogrifier = ClientCursor(self.connection)  # one per connection: it only quotes
        statement = self._mogrifier.mogrify(sql, params)
        read = ReadAfterCommit(statement.encode(self.connection.info.encoding), load)
        self.reads_after_commit.append(read)
        return read

    def _commit(self) -> None:
        reads, self.reads_after_commit = self.reads_after_commit, []
        driver = self.connection
        if not reads or driver is None or driver.pgconn.transaction_status != pq.TransactionStatus.INTRANS:
            return super()._commit()
        # One simple query: the server commits, then runs each read as a transaction of its own.
        # The results tell the commit's own outcome apart from the reads'.
        with self.wrap_database_errors, driver.lock:
            driver.pgconn.send_query(b"; ".join([b"COMMIT", *(read.statement for read in reads)]))
            results = driver.wait(generators.execute(driver.pgconn))
            if results[0].status != pq.ExecStatus.COMMAND_OK:
                raise pg_errors.error_from_result(results[0], encoding=driver.info.encoding)
        for read, result in zip(reads, results[1:], strict=False):
            if result.status == pq.ExecStatus.TUPLES_OK and result.ntuples:
                text = result.get_value(0, 0)
                read.value = read.load(None if text is None else text.decode(driver.info.encoding))
        return None

    def _rollback(self) -> None:
        self.reads_after_commit = []  # as Django drops its on-commit hooks
        return super()._rollback()

    def close(self) -> None:
        self.reads_after_commit = []
        return super().close()

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if params.get("cursor_factory") is DjangoCursor:  # not with server-side binding
            params["cursor_factory"] = Cursor
        return params

    def _handle_search_path(self, cursor: Any = None) -> None:
        """``cursor``: Django's wrapper of the cursor about to run a statement (None: run it now)."""
        driver_cursor = getattr(cursor, "cursor", None)
        if not isinstance(driver_cursor, Cursor) or self._setting_search_path:
            return super()._handle_search_path(cursor)
        if get_limit_set_calls() and self.search_path_set_schemas:
            return None
        if not self.schema_name:
            raise ImproperlyConfigured("Database schema not set: call set_schema() or set_tenant() first.")
        schemas = self._get_cursor_search_paths()  # validates every name
        statement = "SET search_path = " + ",".join(quote_schema_name(s) for s in schemas)
        driver_cursor.pending = (self, statement, schemas)
        return None
