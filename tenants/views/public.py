"""Public pages of the platform host: the service catalogue and the order form (no login)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from tenants import contracts, orders
from tenants.forms import OrderForm, order_queues
from tenants.models import Order, Service, host_for


def client_ip(request: HttpRequest) -> str | None:
    """The peer address. X-Forwarded-For is not trusted: a proxy in front must set REMOTE_ADDR."""
    return request.META.get("REMOTE_ADDR") or None


def catalogue(request: HttpRequest) -> HttpResponse:
    services = Service.objects.filter(is_active=True).prefetch_related("tariffs")
    rows = [(service, service.current_tariff()) for service in services]
    standard = {"sl_percent": contracts.DEFAULT_SL_PERCENT, "sl_seconds": contracts.DEFAULT_SL_SECONDS}
    return render(request, "public/catalogue.html", {"rows": rows, "standard": standard})


@require_http_methods(["GET", "POST"])
def order(request: HttpRequest) -> HttpResponse:
    bound = request.method == "POST"
    form = OrderForm(request.POST if bound else None, request.FILES if bound else None)
    queues = order_queues(request.POST if bound else None)
    if bound and all([form.is_valid(), queues.is_valid()]):  # both checked: every error shows at once
        try:
            placed, _created = orders.order_submit(
                token=str(form.cleaned_data["token"]),
                services=list(form.cleaned_data["services"]),
                fields={**form.order_columns(), "queues": queues.rows()},
                draft_script=form.cleaned_data.get("draft_script") or None,
                ip=client_ip(request),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect("order_thanks", token=placed.token)
    context = {"form": form, "queues": queues}
    return render(request, "public/order.html", context, status=400 if form.is_bound else 200)


def order_thanks(request: HttpRequest, token: str) -> HttpResponse:
    placed = get_object_or_404(Order, token=token)
    return render(
        request, "public/order_thanks.html", {"order": placed, "portal_host": host_for(placed.portal_slug)}
    )
