"""Outbound in the back office (platform host), mounted under /backoffice/outbound/."""

from django.urls import path

from outbound.views import backoffice

urlpatterns = [
    path("", backoffice.home, name="bo_outbound"),
    path("do-not-call/", backoffice.platform_dnc, name="bo_outbound_dnc"),
    path("do-not-call/upload/", backoffice.platform_dnc_upload, name="bo_outbound_dnc_upload"),
    path("do-not-call/<int:pk>/delete/", backoffice.platform_dnc_delete, name="bo_outbound_dnc_delete"),
    path("<slug:slug>/", backoffice.client_campaigns, name="bo_outbound_client"),
    path("<slug:slug>/<int:pk>/", backoffice.campaign, name="bo_outbound_campaign"),
    path("<slug:slug>/<int:pk>/control/", backoffice.campaign_control, name="bo_outbound_control"),
]
