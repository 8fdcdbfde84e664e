"""Outgoing webhooks in the portal (tenant host, mounted at /webhooks/)."""

from django.urls import path

from reporting import webhook_views as views

urlpatterns = [
    path("", views.endpoints, name="webhooks"),
    path("<int:pk>/", views.endpoint_detail, name="webhook_endpoint"),
    path("<int:pk>/rotate/", views.endpoint_rotate, name="webhook_rotate"),
    path("<int:pk>/test/", views.endpoint_test, name="webhook_test"),
    path("<int:pk>/delete/", views.endpoint_delete, name="webhook_delete"),
    path("deliveries/<uuid:uid>/", views.delivery_detail, name="webhook_delivery"),
    path("deliveries/<uuid:uid>/retry/", views.delivery_retry, name="webhook_delivery_retry"),
]
