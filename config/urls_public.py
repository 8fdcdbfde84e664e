"""URLs of the platform host (public schema)."""

from django.contrib import admin
from django.urls import include, path

from config.health import healthz
from console import contract_views, wallboard_views
from tenants.views import platform

admin.site.site_header = "Contact center platform admin"

urlpatterns = [
    # Twilio's webhooks first: the busiest URLs, resolved in the order of this list.
    path("twilio/voice/", include("telephony.urls")),
    path("", platform.landing, name="landing"),
    path("staff/", platform.staff_home, name="home"),
    path("staff/operations/", include("operations.urls")),
    path("", include("tenants.urls_platform")),
    path("backoffice/scripts/", include("scripts_engine.urls_backoffice")),
    path("admin/", admin.site.urls),
    path("console/", include("console.urls")),
    path("wallboard/", wallboard_views.page, name="wallboard"),
    path(
        "backoffice/contracts/<int:pk>/routing/", contract_views.contract_routing, name="bo_contract_routing"
    ),
    path("wallboard/supervision/", include("console.supervision_urls")),
    path("quality/", include("quality.urls")),
    path("backoffice/outbound/", include("outbound.urls_backoffice")),
    path("backoffice/reports/", include("reporting.urls_backoffice")),
    path("healthz", healthz, name="healthz"),
    path("", include("config.urls_auth")),
]
