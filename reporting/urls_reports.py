"""Reporting pages of a client company's portal, under /reports/ on its host."""

from django.urls import path

from reporting import evidence_views
from reporting import portal_views as views

urlpatterns = [
    path("", views.dashboard, name="reports_dashboard"),
    path("today/", views.today_json, name="reports_today"),
    path("statistics.<str:fmt>", views.statistics_export, name="reports_statistics_export"),
    path("calls/", views.call_list, name="reports_calls"),
    path("calls/export.<str:fmt>", views.calls_export, name="reports_calls_export"),
    path("calls/<int:pk>/", views.call_detail, name="reports_call"),
    path("invoices/", views.invoice_list, name="reports_invoices"),
    path("invoices/export.<str:fmt>", views.invoices_export, name="reports_invoices_export"),
    path("invoices/<int:pk>/", views.invoice_detail, name="reports_invoice"),
    path("invoices/<int:pk>/pdf/", views.invoice_pdf, name="reports_invoice_pdf"),
    path(
        "invoices/<int:pk>/credit-notes/<int:note_pk>/pdf/",
        views.credit_note_pdf,
        name="reports_credit_note_pdf",
    ),
    path("invoices/<int:pk>/lines/<int:position>/", evidence_views.portal_line, name="reports_invoice_line"),
    path(
        "invoices/<int:pk>/lines/<int:position>/evidence.<str:fmt>",
        evidence_views.portal_line_evidence,
        name="reports_invoice_line_evidence",
    ),
]
