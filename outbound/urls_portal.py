"""Campaign pages of a client company's portal, mounted under /campaigns/."""

from django.urls import path

from outbound.views import portal

urlpatterns = [
    path("", portal.campaign_list, name="campaign_list"),
    path("new/", portal.campaign_create, name="campaign_create"),
    path("do-not-call/", portal.dnc_list, name="campaign_dnc"),
    path("do-not-call/upload/", portal.dnc_upload, name="campaign_dnc_upload"),
    path("do-not-call/<int:pk>/delete/", portal.dnc_delete, name="campaign_dnc_delete"),
    path("<int:pk>/", portal.campaign_detail, name="campaign_detail"),
    path("<int:pk>/edit/", portal.campaign_edit, name="campaign_edit"),
    path("<int:pk>/contacts/", portal.campaign_contacts, name="campaign_contacts"),
    path("<int:pk>/control/", portal.campaign_control, name="campaign_control"),
    path("<int:pk>/import/", portal.campaign_upload, name="campaign_upload"),
    path("<int:pk>/import/<int:import_pk>/", portal.import_mapping, name="campaign_import_mapping"),
    path("<int:pk>/import/<int:import_pk>/result/", portal.import_result, name="campaign_import_result"),
    path(
        "<int:pk>/import/<int:import_pk>/rejected.csv",
        portal.import_rejections,
        name="campaign_import_rejections",
    ),
]
