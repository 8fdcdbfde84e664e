"""The back office on the platform host: orders, contracts, payments, client companies (R4).

Account managers and platform admins only; every action calls one domain function.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import ACCOUNT_MANAGERS, role_required
from tenants import contracting, lifecycle, onboarding, payments
from tenants.audit import events_for
from tenants.contracts import monthly_total
from tenants.forms import ContractTermsForm, GoLiveOverrideForm, PaymentForm, contract_queues
from tenants.models import AuditEvent, Client, ClientExport, Contract, ContractVersion, FirstInvoice, Order
from tenants.money import shown
from tenants.orders import order_reject as reject_order
from tenants.views.portal import export_links, export_response, first_invoice_response, pdf_response


@role_required(ACCOUNT_MANAGERS)
def orders(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    queryset = Order.objects.select_related("client").prefetch_related("services")
    if state in Order.State.values:
        queryset = queryset.filter(state=state)
    counts = dict(Order.objects.values_list("state").annotate(n=Count("id")))
    tabs = [(value, label, counts.get(value, 0)) for value, label in Order.State.choices]
    return render(request, "backoffice/orders.html", {"orders": queryset[:200], "state": state, "tabs": tabs})


@role_required(ACCOUNT_MANAGERS)
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    order = get_object_or_404(Order.objects.prefetch_related("services"), pk=pk)
    contract = Contract.objects.filter(order=order).first()
    context = {"order": order, "contract": contract, "events": events_for(order, contract, order.client)}
    return render(request, "backoffice/order.html", context)


@role_required(ACCOUNT_MANAGERS)
def order_draft_script(request: HttpRequest, pk: int) -> FileResponse:
    """The draft script the client attached to its order, as a download (never rendered inline)."""
    order = get_object_or_404(Order, pk=pk)
    if not order.draft_script:
        raise Http404("No draft script with this order.")
    name = f"order-{order.pk}-{order.draft_script.name.rsplit('/', 1)[-1]}"
    return FileResponse(order.draft_script.open("rb"), as_attachment=True, filename=name)


@require_POST
@role_required(ACCOUNT_MANAGERS)
def order_draft_contract(request: HttpRequest, pk: int) -> HttpResponse:
    order = get_object_or_404(Order, pk=pk)
    try:
        contract = contracting.contract_draft(order=order, by=request.user)
    except onboarding.OnboardingError as error:
        messages.error(request, str(error))
        return redirect("bo_order", pk=order.pk)
    messages.success(request, "Contract drafted from the order.")
    return redirect("bo_contract", pk=contract.pk)


@require_POST
@role_required(ACCOUNT_MANAGERS)
def order_reject(request: HttpRequest, pk: int) -> HttpResponse:
    order = get_object_or_404(Order, pk=pk)
    try:
        reject_order(order=order, by=request.user, reason=request.POST.get("reason", "")[:500])
        messages.success(request, "Order rejected.")
    except onboarding.OnboardingError as error:
        messages.error(request, str(error))
    return redirect("bo_order", pk=order.pk)


@role_required(ACCOUNT_MANAGERS)
@require_http_methods(["GET", "POST"])
def contract_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contract = get_object_or_404(Contract.objects.select_related("order", "client", "in_force"), pk=pk)
    latest = contract.latest
    initial = {**latest.terms, "body": latest.body}
    first_invoice = FirstInvoice.objects.with_paid().filter(contract=contract).defer("pdf").first()
    bound = request.method == "POST"
    form = ContractTermsForm(request.POST if bound else None, initial=initial)
    queues = contract_queues(
        request.POST if bound else None,
        terms=latest.terms,
        main_name=onboarding.main_queue_name(contract.client),
    )
    if bound and all([form.is_valid(), queues.is_valid()]):  # both checked: every error shows at once
        try:
            version = contracting.contract_revise(
                contract=contract, by=request.user, terms={**form.terms(), "queues": queues.rows()},
                body=form.cleaned_data["body"],
            )  # fmt: skip
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Saved as version {version.number} (draft).")
            return redirect("bo_contract", pk=contract.pk)
    context = {
        "contract": contract,
        "latest": latest,
        "versions": contract.versions.select_related("acceptance").order_by("-number"),
        "form": form,
        "queues": queues,
        "first_invoice": first_invoice,
        "payment_form": PaymentForm(initial=_payment_initial(first_invoice)),
        "override_form": GoLiveOverrideForm(),
        "payments": contract.payments.all(),
        "events": events_for(contract.order, contract, contract.client, first_invoice),
        "totals": monthly_total(latest.tariffs),
        "invited": contracting.invited_admins(contract.client),
    }
    return render(request, "backoffice/contract.html", context, status=400 if form.is_bound else 200)


def _payment_initial(invoice: FirstInvoice | None) -> dict[str, object]:
    """The balance due of the first invoice, in its currency (what a full payment would be)."""
    if invoice is None or invoice.is_paid:
        return {}
    return {"currency": invoice.currency, "amount": invoice.balance_due}


@role_required(ACCOUNT_MANAGERS)
def contract_version(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    version = get_object_or_404(
        ContractVersion.objects.select_related("contract"), contract_id=pk, number=number
    )
    return render(
        request, "backoffice/contract_version.html", {"version": version, "contract": version.contract}
    )


@role_required(ACCOUNT_MANAGERS)
def contract_version_pdf(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    version = get_object_or_404(
        ContractVersion.objects.select_related("contract"), contract_id=pk, number=number
    )
    return pdf_response(version)


@require_POST
@role_required(ACCOUNT_MANAGERS)
def contract_send(request: HttpRequest, pk: int) -> HttpResponse:
    contract = get_object_or_404(Contract, pk=pk)
    try:
        sending = contracting.contract_send(
            contract=contract, by=request.user, secure=request.is_secure(), port=int(request.get_port() or 80)
        )
    except onboarding.OnboardingError as error:
        messages.error(request, str(error))
        return redirect("bo_contract", pk=contract.pk)
    sent = f"Version {sending.version.number} sent to the client's portal."
    invitation = sending.invitation
    if invitation is None:  # a later version: the company and its admin exist already
        messages.success(request, sent)
    elif invitation.sent:
        messages.success(request, f"{sent} {invitation.user.email} was invited to the portal.")
    elif invitation.sent is None:  # inside an outer transaction: the e-mail goes when it commits
        messages.success(request, f"{sent} {invitation.user.email} is invited once this is saved.")
    else:
        messages.warning(
            request,
            f"{sent} The invitation to {invitation.user.email} could not be sent just now: "
            "send it again below in a minute.",
        )
    return redirect("bo_contract", pk=contract.pk)


@require_POST
@role_required(ACCOUNT_MANAGERS)
def contract_invite(request: HttpRequest, pk: int) -> HttpResponse:
    """The client company's admins still invited get a fresh link to their portal."""
    contract = get_object_or_404(Contract.objects.select_related("client"), pk=pk)
    sent = contracting.invite_admins_again(
        contract=contract, by=request.user, secure=request.is_secure(), port=int(request.get_port() or 80)
    )
    if not sent:
        messages.error(request, "Nobody of this client company is waiting for an invitation.")
    for email, done in sent.items():
        if done:
            messages.success(request, f"Invitation sent again to {email}.")
        else:
            messages.error(
                request, f"The invitation to {email} could not be sent just now: try again in a minute."
            )
    return redirect("bo_contract", pk=contract.pk)


@require_POST
@role_required(ACCOUNT_MANAGERS)
def contract_payment(request: HttpRequest, pk: int) -> HttpResponse:
    contract = get_object_or_404(Contract, pk=pk)
    form = PaymentForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"Payment not recorded: {field}: {' '.join(errors)}")
        return redirect("bo_contract", pk=contract.pk)
    try:
        payments.payment_record(contract=contract, by=request.user, **form.cleaned_data)
    except (onboarding.OnboardingError, ValidationError) as error:
        text = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        messages.error(request, f"Payment not recorded: {text}")
    else:
        invoice = FirstInvoice.objects.with_paid().defer("pdf").get(contract=contract)
        if invoice.is_paid:
            over = (
                f"; {shown(invoice.credit, invoice.currency)} over-paid, held as credit"
                if invoice.credit
                else ""
            )
            messages.success(request, f"Payment recorded: invoice {invoice.number} is paid{over}.")
        else:
            messages.warning(
                request,
                f"Payment recorded: {shown(invoice.balance_due, invoice.currency)} still due on invoice "
                f"{invoice.number}; the service starts once it is paid in full.",
            )
    return redirect("bo_contract", pk=contract.pk)


@require_POST
@role_required(ACCOUNT_MANAGERS)
def contract_go_live(request: HttpRequest, pk: int) -> HttpResponse:
    """Start the service before the first invoice is paid in full: a reason is required and logged."""
    contract = get_object_or_404(Contract, pk=pk)
    form = GoLiveOverrideForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not started: " + " ".join(form.errors.get("reason", ["give a reason."])))
        return redirect("bo_contract", pk=contract.pk)
    try:
        payments.go_live_override(contract=contract, by=request.user, reason=form.cleaned_data["reason"])
    except onboarding.OnboardingError as error:
        messages.error(request, f"Not started: {error}")
    else:
        messages.success(request, "The service starts before payment; the reason is in the audit trail.")
    return redirect("bo_contract", pk=contract.pk)


@role_required(ACCOUNT_MANAGERS)
def contract_first_invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    return first_invoice_response(get_object_or_404(FirstInvoice, contract_id=pk))


@role_required(ACCOUNT_MANAGERS)
def client_detail(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(Client.objects.companies(), pk=pk)
    context = {
        "client": client,
        "numbers": client.phone_numbers.all(),
        "queues": client.queues.all(),
        "contracts": client.contracts.all(),
        "exports": export_links(list(ClientExport.objects.filter(client=client, deleted_at__isnull=True))),
        "events": AuditEvent.objects.filter(client=client)[:100],
    }
    response = render(request, "backoffice/client.html", context)
    response["Cache-Control"] = "no-store"
    return response


@role_required(ACCOUNT_MANAGERS)
def client_export(request: HttpRequest, pk: int, token: str) -> FileResponse:
    """A closed company's export through its signed link (the link names the company: pk must match)."""
    client = get_object_or_404(Client.objects.companies(), pk=pk)
    return export_response(request, token=token, client_id=client.pk)


@require_POST
@role_required(ACCOUNT_MANAGERS)
def client_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    client = get_object_or_404(Client.objects.companies(), pk=pk)
    try:
        reason = request.POST.get("reason", "")
        if action == "suspend":
            lifecycle.client_suspend(client=client, by=request.user, reason=reason)
        elif action == "resume":
            lifecycle.client_resume(client=client, by=request.user)
        elif action == "close":
            lifecycle.client_close(client=client, by=request.user, reason=reason)
        else:
            raise PermissionDenied("Unknown action.")
        messages.success(request, f"{client.name}: {action} done.")
    except onboarding.OnboardingError as error:
        messages.error(request, str(error))
    return redirect("bo_client", pk=client.pk)


@role_required(ACCOUNT_MANAGERS)
def audit(request: HttpRequest) -> HttpResponse:
    events = AuditEvent.objects.select_related("client")[:300]
    return render(request, "backoffice/audit.html", {"events": events})
