"""ASGI entry point: HTTP through Django (django-tenants' middleware), WebSockets through Channels."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from config.routing import websocket_urlpatterns  # noqa: E402
from tenants.sockets import TenantAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(TenantAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
