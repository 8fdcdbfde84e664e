"""Django for a benchmark: the configured server, a database of the benchmark's own."""

from __future__ import annotations

import logging
import os


def setup(database: str) -> None:
    """Configure Django on ``database`` (created if missing), with logging quietened."""
    os.environ.setdefault("DJANGO_ENV", "development")
    # As in production: with DEBUG on, Django's cursor would time and keep every statement.
    os.environ.setdefault("DJANGO_DEBUG", "0")
    os.environ["DATABASE_NAME"] = database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.conf import settings

    settings.LOGGING_CONFIG = None
    logging.disable(logging.WARNING)
    from django.db import connection
    from django.db.utils import OperationalError

    try:
        django.setup()
        connection.ensure_connection()
    except OperationalError:
        _create_database(settings.DATABASES["default"])
        connection.close()


def _create_database(db: dict) -> None:
    """``CREATE DATABASE`` over a connection of its own to the server's ``postgres`` database."""
    import psycopg
    from psycopg import sql

    given = {"host": "HOST", "port": "PORT", "user": "USER", "password": "PASSWORD"}
    params = {key: db[name] for key, name in given.items() if db.get(name)}
    # The connection's own options (e.g. ``sslmode`` from DATABASE_URL); the pool is Django's.
    params.update({key: value for key, value in db.get("OPTIONS", {}).items() if key != "pool"})
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as server:
        server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
