"""Outbound in the back office (/backoffice/outbound/, platform host): a client company's
campaigns with the same controls, and the platform's do-not-call list. Account managers,
supervisors and platform admins."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_tenants.utils import tenant_context

from outbound import control
from outbound.donotcall import platform_dnc_add, platform_dnc_add_many
from outbound.models import Campaign
from outbound.views.access import client_for, require_back_office
from outbound.views.donotcall import add_number, dnc_page, upload_numbers
from outbound.views.portal import detail_context
from telephony.models import PlatformDoNotCall
from tenants.models import Client


def back_office(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        require_back_office(request)
        return view(request, *args, **kwargs)

    return wrapper


@back_office
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    clients = Client.objects.companies().order_by("name")
    return render(request, "outbound/bo_home.html", {"clients": clients})


@back_office
@require_GET
def client_campaigns(request: HttpRequest, slug: str) -> HttpResponse:
    client = client_for(slug)
    with tenant_context(client):
        campaigns = list(Campaign.objects.select_related("script").annotate(n_contacts=Count("contacts")))
        return render(request, "outbound/bo_client.html", {"client": client, "campaigns": campaigns})


def _campaign_page(
    request: HttpRequest, client: Client, pk: int, *, status: int = 200, error: str = ""
) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("script"), pk=pk)
    context = {**detail_context(campaign), "client": client, "error": error}
    return render(request, "outbound/bo_campaign.html", context, status=status)


@back_office
@require_GET
def campaign(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    client = client_for(slug)
    with tenant_context(client):
        return _campaign_page(request, client, pk)


@back_office
@require_POST
def campaign_control(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    client = client_for(slug)
    with tenant_context(client):
        found = get_object_or_404(Campaign, pk=pk)
        try:
            control.campaign_control(
                campaign=found, action=request.POST.get("action", ""), now=timezone.now()
            )
        except control.CampaignError as exc:
            return _campaign_page(request, client, pk, status=409, error=str(exc))
    messages.success(request, f"{client.name}: campaign “{found.name}” {found.get_state_display().lower()}.")
    return redirect("bo_outbound_campaign", slug=client.slug, pk=pk)


def _dnc_page(request: HttpRequest, *, status: int = 200, **extra: object) -> HttpResponse:
    return dnc_page(request, PlatformDoNotCall, "outbound/bo_dnc.html", status=status, **extra)


@back_office
@require_http_methods(["GET", "POST"])
def platform_dnc(request: HttpRequest) -> HttpResponse:
    return add_number(request, add=platform_dnc_add, page=_dnc_page, done_url="bo_outbound_dnc")


@back_office
@require_POST
def platform_dnc_upload(request: HttpRequest) -> HttpResponse:
    return upload_numbers(request, add_many=platform_dnc_add_many, page=_dnc_page)


@back_office
@require_POST
def platform_dnc_delete(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(PlatformDoNotCall, pk=pk)
    entry.delete()
    messages.success(request, f"{entry.phone} removed from the platform do-not-call list.")
    return redirect("bo_outbound_dnc")
