"""WSGI entry point for the processes that serve only Twilio's webhooks (issue 23, docs/scale.md §4).

No WebSocket reaches them, so they need no event loop: granian's WSGI server parses HTTP outside
the interpreter and calls Django on its own threads (``config.supervision.wsgi_command``), where a
web process's request crosses between uvicorn's event loop and a2wsgi's threads four times. The
same Django application as ``config.asgi``'s HTTP side, with its released requests and its tuned
collector.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from config.request_release import get_wsgi_application

application = get_wsgi_application()

from config import startup  # noqa: E402

startup.ready()  # the URL confs imported, what is alive now never collected (config/startup.py)
