"""Settings for the test suite: the same settings, in the ``test`` environment."""

import os

os.environ.setdefault("DJANGO_ENV", "test")
# Each pytest-xdist process gets its own four Redis databases (broker, cache, channel layer,
# results), so a test's Celery worker never takes another process's tasks.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
_slot = int(_worker[2:]) + 1 if _worker.startswith("gw") else 3
os.environ["REDIS_DB_BASE"] = str(4 * (_slot % 4))
# The webhook tests' receivers listen on 127.0.0.1: allowed explicitly, as a developer would.
os.environ.setdefault("WEBHOOK_ALLOWED_PRIVATE_HOSTS", "127.0.0.1")

from config.settings import *  # noqa: E402, F403

# A test database of this run's own: two runs at once (two terminals, two agents) never drop
# each other's database. pytest-xdist appends its worker suffix to this name.
DATABASES["default"]["TEST"] = {"NAME": f"test_cc_{os.getpid()}"}  # noqa: F405
