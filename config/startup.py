"""What a server process does once started, before its first request (``config.asgi``, ``config.wsgi``)."""

from __future__ import annotations

from django.conf import settings
from django.urls import get_resolver

from config import collector


def ready() -> None:
    """Import every URL conf now, then freeze what is alive (``config.collector.tune``).

    Django imports a URL conf at the first request that resolves through it: 0.8 s of imports
    (the back office's exports, their spreadsheet and PDF libraries), taken by whichever caller's
    webhook came first after a start or a restart, with the process's other threads waiting on
    the import lock. Imported here, they are also frozen with the rest of start-up.
    """
    for urlconf in dict.fromkeys((settings.ROOT_URLCONF, settings.PUBLIC_SCHEMA_URLCONF)):
        get_resolver(urlconf).url_patterns  # noqa: B018 (a cached property: imports the URL conf)
    collector.tune()
