"""Onboarding pages of the platform host: catalogue, order form, back office."""

from django.urls import path

from tenants.views import backoffice, public

urlpatterns = [
    path("services/", public.catalogue, name="catalogue"),
    path("order/", public.order, name="order"),
    path("order/thanks/<uuid:token>/", public.order_thanks, name="order_thanks"),
    path("staff/orders/", backoffice.orders, name="bo_orders"),
    path("staff/orders/<int:pk>/", backoffice.order_detail, name="bo_order"),
    path("staff/orders/<int:pk>/contract/", backoffice.order_draft_contract, name="bo_order_draft"),
    path("staff/orders/<int:pk>/script/", backoffice.order_draft_script, name="bo_order_script"),
    path("staff/orders/<int:pk>/reject/", backoffice.order_reject, name="bo_order_reject"),
    path("staff/contracts/<int:pk>/", backoffice.contract_detail, name="bo_contract"),
    path("staff/contracts/<int:pk>/send/", backoffice.contract_send, name="bo_contract_send"),
    path("staff/contracts/<int:pk>/invite/", backoffice.contract_invite, name="bo_contract_invite"),
    path("staff/contracts/<int:pk>/payment/", backoffice.contract_payment, name="bo_contract_payment"),
    path("staff/contracts/<int:pk>/go-live/", backoffice.contract_go_live, name="bo_contract_go_live"),
    path(
        "staff/contracts/<int:pk>/first-invoice.pdf",
        backoffice.contract_first_invoice_pdf,
        name="bo_first_invoice_pdf",
    ),
    path("staff/contracts/<int:pk>/v/<int:number>/", backoffice.contract_version, name="bo_contract_version"),
    path(
        "staff/contracts/<int:pk>/v/<int:number>/pdf/",
        backoffice.contract_version_pdf,
        name="bo_contract_pdf",
    ),
    path("staff/clients/<int:pk>/", backoffice.client_detail, name="bo_client"),
    path("staff/clients/<int:pk>/export/<str:token>/", backoffice.client_export, name="bo_client_export"),
    path("staff/clients/<int:pk>/<str:action>/", backoffice.client_action, name="bo_client_action"),
    path("staff/audit/", backoffice.audit, name="bo_audit"),
]
