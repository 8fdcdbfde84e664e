"""WebSocket routes, for every host; each consumer checks who may connect on which host."""

from django.urls import path

from tenants.consumers import PortalConsumer

websocket_urlpatterns = [
    path("ws/portal/", PortalConsumer.as_asgi()),
]
