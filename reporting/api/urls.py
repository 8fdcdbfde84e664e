"""``/api/v1/`` on a client company's host."""

from django.urls import include, path, re_path
from rest_framework.routers import DefaultRouter

from outbound.api import CampaignViewSet
from reporting.api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("calls", views.CallViewSet, basename="api-call")
router.register("contacts", views.ContactViewSet, basename="api-contact")
router.register("recording-accesses", views.RecordingAccessViewSet, basename="api-recording-access")
router.register("statistics", views.StatisticViewSet, basename="api-statistic")
router.register("invoices", views.InvoiceViewSet, basename="api-invoice")
router.register("scripts", views.ScriptViewSet, basename="api-script")
router.register("campaigns", CampaignViewSet, basename="api-campaign")

urlpatterns = [
    path("schema/", views.SchemaView.as_view(), name="api-schema"),
    path("docs/", views.DocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include(router.urls)),
    re_path(r"", views.not_found),  # last: anything else under /api/v1/ is a JSON 404
]
