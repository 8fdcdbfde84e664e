"""``/api/v1/callbacks/`` (before the reporting API's catch-all)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from operations.api import CallbackViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("callbacks", CallbackViewSet, basename="api-callback")

urlpatterns = [path("", include(router.urls))]
