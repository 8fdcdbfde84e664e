"""Onboarding pages of a client company's portal: its contract, its numbers, its team."""

from django.urls import path

from tenants.views import portal

urlpatterns = [
    path("team/<int:pk>/", portal.member, name="member"),
    path("team/<int:pk>/invite/", portal.member_invite, name="member_invite"),
    path("contract/", portal.contract, name="contract"),
    path("contract/v/<int:number>/", portal.contract_version, name="contract_version"),
    path("contract/v/<int:number>/pdf/", portal.contract_version_pdf, name="contract_pdf"),
    path("contract/v/<int:number>/accept/", portal.contract_accept, name="contract_accept"),
    path("contract/first-invoice.pdf", portal.first_invoice_pdf, name="first_invoice_pdf"),
    path("numbers/", portal.numbers, name="numbers"),
    path("data-export/", portal.data_export, name="data_export"),
    path("data-export/<str:token>/", portal.data_export_download, name="data_export_download"),
]
