"""Invoice line → its calls → their events, and the evidence download of a line: in the client's
portal (its issued invoices) and in the back office (account managers, any client company)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET
from django_tenants.utils import tenant_context

from accounts.permissions import ACCOUNT_MANAGERS, role_required
from reporting import line_evidence, stats
from reporting.billing_models import Invoice, InvoiceLine
from reporting.portal_views import access_invoice, client_staff
from tenants.models import Client

FORMATS = ("json", "csv")
PAGE = 100


def _line(invoice: Invoice, position: int) -> InvoiceLine:
    lines = InvoiceLine.objects.select_related("invoice")
    return get_object_or_404(lines, invoice=invoice, position=position)


def _page(request: HttpRequest, line: InvoiceLine) -> dict[str, object]:
    calls = Paginator(line_evidence.calls_of(line), PAGE).get_page(request.GET.get("page"))
    return {"invoice": line.invoice, "line": line, "calls": calls, "zone": stats.local_zone()}


@client_staff
def portal_line(request: HttpRequest, pk: int, position: int) -> HttpResponse:
    """The calls an invoice line counts, each opening its call page (events, answers, recording)."""
    line = _line(access_invoice(pk), position)
    return render(request, "reporting/invoice_line.html", _page(request, line))


@client_staff
def portal_line_evidence(request: HttpRequest, pk: int, position: int, fmt: str) -> HttpResponse:
    if fmt not in FORMATS:
        raise Http404("Evidence downloads are JSON or CSV.")
    line = _line(access_invoice(pk), position)
    name = f"{request.tenant.slug}-{line.invoice.number}-line-{position}-evidence"
    return line_evidence.download(tenant=request.tenant, line_id=line.pk, fmt=fmt, filename=name)


def _client(pk: int) -> Client:
    return get_object_or_404(Client.objects.companies(), pk=pk)


@require_GET
@role_required(ACCOUNT_MANAGERS)
def backoffice_line(request: HttpRequest, client_pk: int, pk: int, position: int) -> HttpResponse:
    """The calls of a client's invoice line with each call's events (account managers)."""
    client = _client(client_pk)
    with tenant_context(client):
        line = _line(get_object_or_404(Invoice.objects.defer("pdf"), pk=pk), position)
        context = _page(request, line)
        context["calls"].object_list = list(context["calls"].object_list.prefetch_related("events"))
        return render(request, "backoffice/invoice_line.html", {**context, "client": client})


@require_GET
@role_required(ACCOUNT_MANAGERS)
def backoffice_line_evidence(
    request: HttpRequest, client_pk: int, pk: int, position: int, fmt: str
) -> HttpResponse:
    if fmt not in FORMATS:
        raise Http404("Evidence downloads are JSON or CSV.")
    client = _client(client_pk)
    with tenant_context(client):
        line = _line(get_object_or_404(Invoice.objects.defer("pdf"), pk=pk), position)
    name = f"{client.slug}-{line.invoice.number}-line-{position}-evidence"
    return line_evidence.download(tenant=client, line_id=line.pk, fmt=fmt, filename=name)
