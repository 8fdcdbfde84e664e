"""Back-office reports on the platform host (mounted at /backoffice/reports/)."""

from django.urls import path

from reporting import backoffice_views as views
from reporting import evidence_views

urlpatterns = [
    path("", views.figures, name="bo_reports"),
    path("staffing/", views.staffing_view, name="bo_staffing"),
    path("invoices/", views.invoice_clients, name="bo_invoices"),
    path("invoices/<int:client_pk>/", views.client_invoices, name="bo_client_invoices"),
    path("invoices/<int:client_pk>/build/", views.invoice_build, name="bo_invoice_build"),
    path("invoices/<int:client_pk>/<int:pk>/", views.invoice_detail, name="bo_invoice"),
    path("invoices/<int:client_pk>/<int:pk>/issue/", views.invoice_issue, name="bo_invoice_issue"),
    path("invoices/<int:client_pk>/<int:pk>/paid/", views.invoice_paid, name="bo_invoice_paid"),
    path("invoices/<int:client_pk>/<int:pk>/credit/", views.invoice_credit, name="bo_invoice_credit"),
    path("invoices/<int:client_pk>/<int:pk>/pdf/", views.invoice_pdf, name="bo_invoice_pdf"),
    path(
        "invoices/<int:client_pk>/<int:pk>/credit-notes/<int:note_pk>/pdf/",
        views.credit_note_pdf,
        name="bo_credit_note_pdf",
    ),
    path(
        "invoices/<int:client_pk>/<int:pk>/lines/<int:position>/",
        evidence_views.backoffice_line,
        name="bo_invoice_line",
    ),
    path(
        "invoices/<int:client_pk>/<int:pk>/lines/<int:position>/evidence.<str:fmt>",
        evidence_views.backoffice_line_evidence,
        name="bo_invoice_line_evidence",
    ),
]
