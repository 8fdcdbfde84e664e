"""``/api/v1/callbacks/`` and ``/api/v1/certification/`` (before the reporting API's catch-all)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from operations.api import CallbackViewSet
from operations.certification_api import CertificationSummaryView

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("callbacks", CallbackViewSet, basename="api-callback")

urlpatterns = [
    path("certification/", CertificationSummaryView.as_view(), name="api-certification"),
    path("", include(router.urls)),
]
