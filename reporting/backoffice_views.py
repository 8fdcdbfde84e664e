"""Back-office reports on the platform host: platform-wide figures, staffing, client invoices.

Figures and staffing: supervisors, account managers and platform admins. Invoices: account
managers and platform admins. Every write is POST (CSRF-checked) and goes through
``reporting.invoicing`` (one transaction, audited).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_tenants.utils import tenant_context

from accounts.permissions import ACCOUNT_MANAGERS, BACK_OFFICE, role_required
from reporting import invoicing, operator_time, platform
from reporting.billing_models import CreditNote, Invoice
from reporting.invoice_pdf import render_credit_note_pdf, render_pdf
from reporting.periods import PeriodForm, day_field, default_period
from reporting.what_if import WhatIfForm, what_if
from tenants import payments
from tenants.models import Client
from tenants.money import amount, shown

NOTHING = "\u2013"  # an en dash: no call to measure a rate on


def _today() -> dt.date:
    return timezone.now().astimezone(platform.platform_zone()).date()


def _percent(value: float | None) -> str:
    return NOTHING if value is None else f"{value * 100:.1f} %"


def _seconds(value: float | None) -> str:
    return NOTHING if value is None else f"{value:.0f} s"


def figures_row(row: platform.Figures) -> dict[str, object]:
    """One table row as shown: counts, and rates formatted (a dash where nothing was measured)."""
    rates, t = row.rates, row.totals
    return {
        "client": row.client,
        "offered": t.offered,
        "answered": t.answered,
        "abandoned": t.abandoned,
        "short_abandons": t.short_abandons,
        "service_level": _percent(rates["service_level"]),
        "asa": _seconds(rates["asa_seconds"]),
        "aht": _seconds(rates["aht_seconds"]),
        "abandon_rate": _percent(rates["abandon_rate"]),
        "built_at": row.built_at,
    }


def occupancy_row(row: operator_time.OperatorOccupancy) -> dict[str, object]:
    return {
        "name": row.name,
        "handling": _seconds(row.handling_seconds),
        "idle": _seconds(row.idle_seconds),
        "occupancy": _percent(row.occupancy),
        "scheduled": _seconds(row.scheduled_seconds or None),
        "adherence": _percent(row.adherence),
    }


@require_GET
@role_required(BACK_OFFICE)
def figures(request: HttpRequest) -> HttpResponse:
    """Offered, answered, abandoned, SL, ASA, AHT and abandon rate per client company and in total."""
    today = _today()
    form = PeriodForm.from_query(request.GET, today=today)
    first, last = (
        (form.cleaned_data["start"], form.cleaned_data["end"]) if form.is_valid() else default_period(today)
    )
    clients = platform.reporting_clients()
    today_rows, today_total = platform.unscoped_figures(first=today, last=today, clients=clients)
    period_rows, period_total = platform.unscoped_figures(first=first, last=last, clients=clients)
    context = {
        "form": form,
        "today": today,
        "period": (first, last),
        "tables": [
            (
                "today",
                f"Today, {today:%d %b %Y}",
                [figures_row(r) for r in today_rows],
                figures_row(today_total),
            ),
            (
                "period",
                f"{first:%d %b %Y} to {last:%d %b %Y}",
                [figures_row(r) for r in period_rows],
                figures_row(period_total),
            ),
        ],
        "occupancy": [
            occupancy_row(o)
            for o in operator_time.unscoped_operator_occupancy(first=first, last=last, now=timezone.now())
        ],
    }
    status = 400 if form.errors else 200
    return render(request, "backoffice/reports.html", context, status=status)


class StaffingForm(forms.Form):
    client = forms.ModelChoiceField(
        queryset=Client.objects.none(), required=False, empty_label="Whole pool", label="Client company"
    )
    day = day_field("Day")
    sl_percent = forms.IntegerField(
        label="Target SL %", min_value=1, max_value=99, required=False, help_text="Empty: the contract's."
    )
    sl_seconds = forms.IntegerField(
        label="…within seconds",
        min_value=1,
        max_value=600,
        required=False,
        help_text="Empty: the contract's.",
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = Client.objects.companies().filter(
            status__in=[Client.Status.ACTIVE, Client.Status.SUSPENDED]
        )


@require_GET
@role_required(BACK_OFFICE)
def staffing_view(request: HttpRequest) -> HttpResponse:
    """Operators needed by Erlang C per 15 minutes against those logged in."""
    own = {name for name in request.GET if not name.startswith("whatif-")}  # the what-if has its own
    form = StaffingForm(request.GET if own else None, initial={"day": _today()})
    if not form.is_bound:
        data = {"client": None, "day": _today(), "sl_percent": None, "sl_seconds": None}
    else:
        data = form.cleaned_data if form.is_valid() else None
    result = None
    if data:
        result = platform.unscoped_staffing(
            client=data["client"],
            day=data["day"],
            now=timezone.now(),
            target_sl_percent=data["sl_percent"],
            threshold_seconds=data["sl_seconds"],
        )
    asked = any(name.startswith("whatif-") for name in request.GET)
    whatif_form = WhatIfForm(request.GET if asked else None, prefix="whatif")
    whatif = None
    if asked and whatif_form.is_valid():
        typed = whatif_form.cleaned_data
        try:
            whatif = what_if(
                calls=float(typed["calls"]), aht_seconds=typed["aht_seconds"], sl_percent=typed["sl_percent"],
                sl_seconds=typed["sl_seconds"], patience_seconds=typed["patience_seconds"],
            )  # fmt: skip
        except ValueError as error:
            whatif_form.add_error(None, str(error))
    context = {
        "form": form,
        "result": result,
        "client": data["client"] if data else None,
        "zone": str(platform.platform_zone()),
        "whatif_form": whatif_form,
        "whatif": whatif,
    }
    bad = data is None or (asked and whatif is None)
    return render(request, "backoffice/reports_staffing.html", context, status=400 if bad else 200)


# Invoices


# A month whose local days turn into UTC bounds within datetime's range (as DAY_LIMITS for days).
FIRST_MONTH, LAST_MONTH = dt.date(1, 2, 1), dt.date(9999, 11, 1)


class MonthForm(forms.Form):
    month = forms.CharField(
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"}), help_text="YYYY-MM"
    )

    def clean_month(self) -> dt.date:
        try:
            month = dt.datetime.strptime(self.cleaned_data["month"], "%Y-%m").date()
        except ValueError:
            raise ValidationError("Enter a month as YYYY-MM.") from None
        if not FIRST_MONTH <= month <= LAST_MONTH:
            raise ValidationError("Choose a month from 0001-02 to 9999-11.")
        return month


class PaymentForm(forms.Form):
    amount = forms.DecimalField(
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        help_text="What the bank credited; a partial payment leaves a balance due.",
    )
    currency = forms.RegexField(regex=r"^[A-Za-z]{3}$", max_length=3, error_messages={"invalid": "Like EUR."})
    paid_on = forms.DateField(label="Paid on", widget=forms.DateInput(attrs={"type": "date"}))
    reference = forms.CharField(max_length=100, help_text="The transfer's reference.")


class CreditForm(forms.Form):
    amount = forms.DecimalField(
        label="Amount before tax",
        max_digits=12,
        decimal_places=2,
        min_value=0.01,
        help_text="Spread over the invoice's tax rates; notes crediting all of it give back exactly its tax.",
    )
    reason = forms.CharField(max_length=300)


def _client(pk: int) -> Client:
    return get_object_or_404(Client.objects.companies(), pk=pk)


def _ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


@require_GET
@role_required(ACCOUNT_MANAGERS)
def invoice_clients(request: HttpRequest) -> HttpResponse:
    clients = Client.objects.companies().order_by("name")
    return render(request, "backoffice/invoices.html", {"clients": clients})


def _client_invoices(
    request: HttpRequest, client: Client, *, month_form: MonthForm, status: int = 200
) -> HttpResponse:
    with tenant_context(client):
        invoices = list(Invoice.objects.defer("pdf").prefetch_related("credit_notes"))
    context = {"client": client, "invoices": invoices, "month_form": month_form}
    return render(request, "backoffice/invoices_client.html", context, status=status)


@require_GET
@role_required(ACCOUNT_MANAGERS)
def client_invoices(request: HttpRequest, client_pk: int) -> HttpResponse:
    client = _client(client_pk)
    today = _today()
    return _client_invoices(request, client, month_form=MonthForm(initial={"month": f"{today:%Y-%m}"}))


@require_POST
@role_required(ACCOUNT_MANAGERS)
def invoice_build(request: HttpRequest, client_pk: int) -> HttpResponse:
    client = _client(client_pk)
    form = MonthForm(request.POST)
    if form.is_valid():
        try:
            invoice = invoicing.do_build_draft(
                client=client, month=form.cleaned_data["month"], actor=request.user, ip=_ip(request)
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            total = shown(invoice.total, invoice.currency)
            messages.success(request, f"Draft {invoice.number} built: {total}.")
            return redirect("bo_invoice", client_pk=client.pk, pk=invoice.pk)
    return _client_invoices(request, client, month_form=form, status=400)


def _invoice_page(
    request: HttpRequest, client: Client, pk: int, *, payment=None, credit=None, status: int = 200
) -> HttpResponse:
    with tenant_context(client):
        invoice = Invoice.objects.defer("pdf").filter(pk=pk).first()
        if invoice is None:
            raise Http404("No such invoice for this client company.")
        lines = list(invoice.lines.all())
        notes = list(invoice.credit_notes.all())
    paid = payments.payments_of(invoice_number=invoice.number)
    due = invoice.total - sum((n.total for n in notes), Decimal("0.00")) - paid
    balance = {"amount": amount(max(due, Decimal(0)), invoice.currency), "currency": invoice.currency}
    context = {
        "client": client,
        "invoice": invoice,
        "lines": lines,
        "notes": notes,
        "payment_form": payment or PaymentForm(initial={"paid_on": _today(), **balance}),
        "paid": paid,
        "credit_form": credit or CreditForm(),
    }
    return render(request, "backoffice/invoice.html", context, status=status)


@require_GET
@role_required(ACCOUNT_MANAGERS)
def invoice_detail(request: HttpRequest, client_pk: int, pk: int) -> HttpResponse:
    return _invoice_page(request, _client(client_pk), pk)


def _act(
    request: HttpRequest, client: Client, pk: int, action: Callable[[], object], done: str, **forms_
) -> HttpResponse:
    try:
        action()
    except Invoice.DoesNotExist:
        raise Http404("No such invoice for this client company.") from None
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _invoice_page(request, client, pk, status=400, **forms_)
    messages.success(request, done)
    return redirect("bo_invoice", client_pk=client.pk, pk=pk)


@require_POST
@role_required(ACCOUNT_MANAGERS)
def invoice_issue(request: HttpRequest, client_pk: int, pk: int) -> HttpResponse:
    client = _client(client_pk)
    return _act(
        request,
        client,
        pk,
        lambda: invoicing.do_issue(client=client, invoice_id=pk, actor=request.user, ip=_ip(request)),
        "Invoice issued: it can no longer change.",
    )


@require_POST
@role_required(ACCOUNT_MANAGERS)
def invoice_paid(request: HttpRequest, client_pk: int, pk: int) -> HttpResponse:
    client = _client(client_pk)
    form = PaymentForm(request.POST)
    if not form.is_valid():
        return _invoice_page(request, client, pk, payment=form, status=400)
    data = form.cleaned_data
    return _act(
        request,
        client,
        pk,
        lambda: invoicing.do_mark_paid(
            client=client,
            invoice_id=pk,
            paid_on=data["paid_on"],
            reference=data["reference"],
            amount=data["amount"],
            currency=data["currency"],
            actor=request.user,
            ip=_ip(request),
        ),
        "Payment recorded (the invoice is paid once its balance is covered).",
        payment=form,
    )


@require_POST
@role_required(ACCOUNT_MANAGERS)
def invoice_credit(request: HttpRequest, client_pk: int, pk: int) -> HttpResponse:
    client = _client(client_pk)
    form = CreditForm(request.POST)
    if not form.is_valid():
        return _invoice_page(request, client, pk, credit=form, status=400)
    data = form.cleaned_data
    return _act(
        request,
        client,
        pk,
        lambda: invoicing.do_credit(
            client=client,
            invoice_id=pk,
            subtotal=data["amount"],
            reason=data["reason"],
            actor=request.user,
            ip=_ip(request),
        ),
        "Credit note issued.",
        credit=form,
    )


@require_GET
@role_required(ACCOUNT_MANAGERS)
def invoice_pdf(request: HttpRequest, client_pk: int, pk: int) -> HttpResponse:
    """The issued PDF as it was sent; a draft is rendered now and marked as a draft."""
    client = _client(client_pk)
    with tenant_context(client):
        invoice = Invoice.objects.filter(pk=pk).first()
        if invoice is None:
            raise Http404("No such invoice for this client company.")
        content = bytes(invoice.pdf) if invoice.pdf else render_pdf(invoice=invoice)
    suffix = "" if invoice.pdf else "-draft"
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}{suffix}.pdf"'
    return response


@require_GET
@role_required(ACCOUNT_MANAGERS)
def credit_note_pdf(request: HttpRequest, client_pk: int, pk: int, note_pk: int) -> HttpResponse:
    client = _client(client_pk)
    with tenant_context(client):
        note = CreditNote.objects.select_related("invoice").filter(pk=note_pk, invoice_id=pk).first()
        if note is None:
            raise Http404("No such credit note for this client company.")
        content = render_credit_note_pdf(note=note)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{note.number}.pdf"'
    return response
