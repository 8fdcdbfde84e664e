"""WebSocket routes, for every host; each consumer checks who may connect on which host."""

from django.urls import path

from console.consumers import OperatorConsumer
from console.wallboard_consumer import WallboardConsumer
from tenants.consumers import PortalConsumer

websocket_urlpatterns = [
    path("ws/portal/", PortalConsumer.as_asgi()),
    path("ws/operator/", OperatorConsumer.as_asgi()),
    path("ws/wallboard/", WallboardConsumer.as_asgi()),
]
