"""ASGI entry point: HTTP through Django's WSGI handler on a pool of threads, WebSockets through Channels.

Plain requests run whole in one pooled thread (a2wsgi): Django's ASGI handler would start a thread
per request and hop between the event loop and that thread for each middleware, which cost more
than most of our views (the incoming-call webhook ran at half the speed; ``python -m bench
telephony``). WEB_THREADS threads per process, each using a connection of the database pool.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from a2wsgi import WSGIMiddleware
from channels.routing import ProtocolTypeRouter, URLRouter
from django.conf import settings

from config.request_release import get_wsgi_application

django_wsgi_app = get_wsgi_application()

from config import startup  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402
from telephony import console_presence  # noqa: E402
from tenants.sockets import SameOriginMiddleware, TenantAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": WSGIMiddleware(django_wsgi_app, workers=settings.WEB_THREADS),
        "websocket": SameOriginMiddleware(TenantAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
# The consoles a crashed earlier process of this node held are gone (issue 22).
console_presence.forget_node()
startup.ready()  # the URL confs imported, what is alive now never collected (config/startup.py)
