"""The tenant-aware Celery app: a task sent inside a tenant's schema runs in that schema."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time

from celery import Task
from celery.signals import (
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_ready,
    worker_shutdown,
)
from kombu.exceptions import KombuError, OperationalError, SerializationError
from redis.exceptions import RedisError
from tenant_schemas_celery.app import CeleryApp

from config import collector

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

log = logging.getLogger(__name__)
# What a send can raise when the broker, not the caller, is at fault: kombu's reconnect bug (an
# AttributeError), its own errors, Redis's and the network's.
BROKEN_SEND = (AttributeError, KombuError, RedisError, OSError)

app = CeleryApp("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

HEARTBEAT_SECONDS = 5.0
_stop_heartbeat = threading.Event()


class TenantRequiredTask(app.Task):  # type: ignore[name-defined]
    """A task that only makes sense inside a client company's schema.

    tenant-schemas-celery falls back to public when the schema header is missing; this
    refuses to run there instead of reading or writing the platform's tables by mistake.
    """

    abstract = True

    def __call__(self, *args, **kwargs):
        from django.db import connection

        if connection.schema_name == "public":
            raise RuntimeError(f"{self.name} must be sent from inside a client company's schema")
        return super().__call__(*args, **kwargs)


def tenant_task(*args, **kwargs) -> Task:
    """``@tenant_task`` for tasks that run in the schema of the tenant that sent them."""
    kwargs.setdefault("base", TenantRequiredTask)
    return app.task(*args, **kwargs)


# The pauses before a send whose producer kombu broke is tried again (then given up): short, since
# a console's sync work runs on one thread its whole process shares.
SEND_PAUSES = (0.25, 0.5)


def send_after_commit(task: Task, *args: object, **kwargs: object) -> bool:
    """Send a task from a request whose own work has committed, and never fail that request for it.

    Celery retries a send while Redis is away (``CELERY_TASK_PUBLISH_RETRY_POLICY``: about 11 s
    against a refused connection), but only on the errors it knows as connection errors: during a
    Redis restart kombu has also raised ``AttributeError: 'NoneType' object has no attribute
    'client'`` from a producer whose connection had just gone (the reconnect-bug family of
    docs/reliability.md), which made a webhook answer 500 although everything it had to write was
    written. Such an error, or another of the broker's, is logged and the send tried again after
    each of ``SEND_PAUSES``; kombu's ``OperationalError`` means Celery's own retries are spent, and
    is not tried again. A send that fails is logged as an error and ``False`` returned: whatever the
    task would have done must be found again by a sweep (docs/reliability.md). A programming error
    (arguments the task does not take, a value JSON cannot carry) is raised as always.
    """
    error: Exception | None = None
    for pause in (*SEND_PAUSES, None):
        try:
            task.delay(*args, **kwargs)
            return True
        except SerializationError:  # a value JSON cannot carry: the caller's bug
            raise
        except OperationalError as spent:
            error = spent
            break
        except BROKEN_SEND as broken:
            error = broken
            if pause is not None:
                log.warning("%s not sent (%r); again in %.2f s", task.name, broken, pause)
                time.sleep(pause)
    log.error("%s%r could not be sent: a sweep will find its work", task.name, args, exc_info=error)
    return False


@task_prerun.connect
@task_postrun.connect
def _release_connections(task: Task | None = None, **kwargs) -> None:
    """Around each task, as Django does around each request: a connection that is broken or past
    CONN_MAX_AGE is closed, which gives a pooled one back to the pool (settings.CELERY_DB_REUSE_MAX
    keeps Celery's fixup from closing the pool itself). A task run eagerly (in a test, inside its
    transaction) is left alone, as the fixup leaves it."""
    from django.db import close_old_connections

    if not getattr(getattr(task, "request", None), "is_eager", False):
        close_old_connections()


@worker_init.connect
@worker_process_init.connect
def _tune_collector(**kwargs) -> None:
    """A worker (and each process of its pool, once forked) has started: config/collector.py."""
    collector.tune()


def _heartbeat_key() -> str:
    from django.conf import settings

    return settings.CELERY_WORKER_HEARTBEAT_KEY


def _beat_forever(hostname: str) -> None:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    while not _stop_heartbeat.is_set():
        with contextlib.suppress(redis.RedisError):  # the broker is down; /healthz will say so
            client.zadd(_heartbeat_key(), {hostname: time.time()})
        _stop_heartbeat.wait(HEARTBEAT_SECONDS)
    with contextlib.suppress(redis.RedisError):
        client.zrem(_heartbeat_key(), hostname)


@worker_ready.connect
def _start_heartbeat(sender=None, **kwargs) -> None:
    """Each worker marks itself alive in Redis: /healthz reads one sorted set, no broadcast."""
    hostname = getattr(sender, "hostname", None) or f"worker@{socket.gethostname()}:{os.getpid()}"
    threading.Thread(target=_beat_forever, args=(hostname,), daemon=True, name="heartbeat").start()


@worker_shutdown.connect
def _stop(**kwargs) -> None:
    _stop_heartbeat.set()


def live_workers(client, within: float = 3 * HEARTBEAT_SECONDS) -> int:
    """How many workers beat within the last ``within`` seconds."""
    return int(client.zcount(_heartbeat_key(), time.time() - within, "+inf"))
