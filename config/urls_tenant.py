"""URLs of a client company's host (its own schema)."""

from django.urls import include, path

from config.health import healthz
from operations.urls_portal import callback_urls
from tenants.views import portal

urlpatterns = [
    path("", portal.home, name="home"),
    path("team/", portal.team, name="team"),
    path("", include("tenants.urls_portal")),
    path("", include("scripts_engine.urls_portal")),
    path("api/v1/", include("operations.urls_api")),
    path("api/v1/", include("reporting.api.urls")),
    path("", include("reporting.urls_portal")),
    path("reports/", include("reporting.urls_reports")),
    path("webhooks/", include("reporting.urls_webhooks")),
    path("campaigns/", include("outbound.urls_portal")),
    path("recordings/", include("quality.urls_portal")),
    path("service/", include("operations.urls_portal")),
    path("callbacks/", include(callback_urls)),
    path("healthz", healthz, name="healthz"),
    path("", include("config.urls_auth")),
]
