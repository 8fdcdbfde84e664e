"""Pages of a client company's portal, on its own host; everything runs in its schema."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts import invitations, members
from accounts.models import CLIENT_ROLES, Role, User
from accounts.permissions import CLIENT_ADMINS, CLIENT_STAFF, require
from telephony.models import PhoneNumber
from telephony.routing import standing
from tenants import closing, contracting, onboarding
from tenants.audit import record_event
from tenants.contracts import render_pdf
from tenants.forms import MemberForm
from tenants.models import ClientExport, Contract, ContractVersion, FirstInvoice
from tenants.views.public import client_ip


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail")
    first_name = forms.CharField(label="First name", max_length=150)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)
    role = forms.ChoiceField(label="Role", choices=[(r.value, r.label) for r in Role if r in CLIENT_ROLES])

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("Somebody with this e-mail is already in your team.")
        return email


@login_required
def home(request: HttpRequest) -> HttpResponse:
    require(CLIENT_STAFF, request.user)
    awaiting = ContractVersion.objects.filter(contract__client_id=request.tenant.pk, state="sent").first()
    first_invoice = FirstInvoice.objects.with_paid().filter(client_id=request.tenant.pk).defer("pdf").first()
    return render(request, "portal/home.html", {"awaiting": awaiting, "first_invoice": first_invoice})


@login_required
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest) -> HttpResponse:
    require(CLIENT_STAFF, request.user)
    user = request.user
    form = InviteForm(request.POST or None)
    if request.method == "POST":
        require(CLIENT_ADMINS, user)
        if form.is_valid():
            try:
                invited = invitations.invite_member(
                    invited_by=user, host=request.get_host(), secure=request.is_secure(), **form.cleaned_data
                )
            except ValidationError as exc:  # e.g. a second submit that raced the first
                form.add_error(None, exc)
            else:
                if invited.sent:
                    messages.success(request, f"Invitation sent to {invited.user.email}.")
                else:
                    messages.error(request, f"{invited.user.email} is in your team, but the invitation could "
                                   "not be sent just now: send it again in a minute.")  # fmt: skip
                return redirect("team")
    team_members = User.objects.order_by("last_name", "first_name", "username")
    roles = [(r.value, r.label) for r in Role if r in CLIENT_ROLES]
    return render(request, "portal/team.html", {"members": team_members, "form": form, "roles": roles})


@login_required
@require_http_methods(["POST"])
def member(request: HttpRequest, pk: int) -> HttpResponse:
    """A client admin changes a colleague's role or (de)activates them; never their own access."""
    require(CLIENT_ADMINS, request.user)
    admin = request.user
    colleague = get_object_or_404(User, pk=pk)
    form = MemberForm(request.POST)
    if colleague.pk == admin.pk:
        messages.error(request, "You cannot change your own role or access.")
    elif not form.is_valid():
        messages.error(request, "Choose a valid role.")
    else:
        try:
            members.member_update(member=colleague, by=admin, **form.cleaned_data)
        except PermissionError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"{colleague.get_full_name() or colleague.username} updated.")
    return redirect("team")


@login_required
@require_http_methods(["POST"])
def member_invite(request: HttpRequest, pk: int) -> HttpResponse:
    """A client admin sends an invited colleague a fresh link (the e-mail was lost, or its link
    expired)."""
    require(CLIENT_ADMINS, request.user)
    colleague = get_object_or_404(User, pk=pk)
    try:
        sent = invitations.invite_again(
            member=colleague, invited_by=request.user, host=request.get_host(), secure=request.is_secure()
        )
    except ValidationError as refused:
        messages.error(request, refused.messages[0])
        return redirect("team")
    if sent:
        messages.success(request, f"Invitation sent again to {colleague.email}.")
    else:
        messages.error(request, "The invitation could not be sent just now: try again in a minute.")
    return redirect("team")


def access_contract(request: HttpRequest) -> Contract | None:
    """The contract of this host's client company, or None: never another company's."""
    return Contract.objects.filter(client_id=request.tenant.pk).select_related("in_force").first()


def access_sent_version(request: HttpRequest, number: int) -> ContractVersion:
    """A version of this company's contract that was sent to it (drafts are the center's business)."""
    return get_object_or_404(
        ContractVersion.objects.select_related("contract"),
        contract__client_id=request.tenant.pk,
        number=number,
        sent_at__isnull=False,
    )


def pdf_response(version: ContractVersion) -> HttpResponse:
    """The stored bytes of a sent version (the ones hashed at acceptance), or a fresh render of a draft."""
    data = bytes(version.pdf) if version.pdf else render_pdf(version=version)
    response = HttpResponse(data, content_type="application/pdf")
    name = f"{version.contract.reference}-v{version.number}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


@login_required
def contract(request: HttpRequest) -> HttpResponse:
    require(CLIENT_STAFF, request.user)
    found = access_contract(request)
    versions = (
        found.versions.filter(sent_at__isnull=False).select_related("acceptance").order_by("-number")
        if found
        else []
    )
    first_invoice = FirstInvoice.objects.with_paid().filter(client_id=request.tenant.pk).defer("pdf").first()
    context = {
        "contract": found, "versions": versions, "first_invoice": first_invoice,
        "service": _service_now(request.tenant.pk), "window": settings.ROUTING_SL_WINDOW_MINUTES,
    }  # fmt: skip
    return render(request, "portal/contract.html", context)


# What the router does with a queue's calls now, in the client's words (``fairness`` classes).
SERVICE_NOW = {
    "reserved": "your reserved operators first",
    "starving": "a call waited past the hard limit: served first",
    "behind": "by your service level against the others'",
    "capped": "at its cap: other clients' calls first",
}


def _service_now(client_id: int) -> list[dict[str, object]]:
    """This company's queues as the router serves them now (issue 20), one row per queue under
    its own contract terms: target, live service level, seats used, reserved and cap, how the
    router treats its calls, and which of its queues' calls it serves first. Computed from the
    company's own queues only (``standing.now_favoured(tenant_id=…)``): no other company's
    figures, names or work."""
    view = standing.now_favoured(tenant_id=client_id)
    rows = [row for row in standing.figures(view, tenant_id=client_id) if row["tenant_id"] == client_id]
    return [{**row, "how": SERVICE_NOW.get(str(row["kind"]), "")} for row in rows]


def first_invoice_response(invoice: FirstInvoice) -> HttpResponse:
    """The first invoice's PDF, the bytes issued."""
    response = HttpResponse(bytes(invoice.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    return response


@login_required
def first_invoice_pdf(request: HttpRequest) -> HttpResponse:
    """This company's first invoice (never another company's: found by the host's company)."""
    require(CLIENT_STAFF, request.user)
    return first_invoice_response(get_object_or_404(FirstInvoice, client_id=request.tenant.pk))


@login_required
def contract_version(request: HttpRequest, number: int) -> HttpResponse:
    require(CLIENT_STAFF, request.user)
    version = access_sent_version(request, number)
    return render(request, "portal/contract_version.html", {"version": version, "contract": version.contract})


@login_required
def contract_version_pdf(request: HttpRequest, number: int) -> HttpResponse:
    require(CLIENT_STAFF, request.user)
    return pdf_response(access_sent_version(request, number))


@login_required
@require_http_methods(["POST"])
def contract_accept(request: HttpRequest, number: int) -> HttpResponse:
    require(CLIENT_ADMINS, request.user)
    user = request.user
    version = access_sent_version(request, number)
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the box to confirm that you accept the contract.")
        return redirect("contract_version", number=number)
    try:
        contracting.contract_accept(
            version=version,
            user=user,
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    except onboarding.OnboardingError as error:
        messages.error(request, str(error))
        return redirect("contract_version", number=number)
    messages.success(request, f"Thank you: version {version.number} of the contract is accepted.")
    return redirect("contract")


@login_required
def numbers(request: HttpRequest) -> HttpResponse:
    require(CLIENT_STAFF, request.user)
    found = PhoneNumber.objects.filter(tenant_id=request.tenant.pk).order_by("number")
    return render(request, "portal/numbers.html", {"numbers": found})


def export_links(exports: list[ClientExport]) -> list[tuple[ClientExport, str]]:
    """Each export still kept with a fresh signed token for its download link."""
    return [(export, closing.download_token(export)) for export in exports]


@login_required
def data_export(request: HttpRequest) -> HttpResponse:
    """A closed company's data exports, for its admins, each with a link that expires."""
    require(CLIENT_ADMINS, request.user)
    kept = ClientExport.objects.filter(client_id=request.tenant.pk, deleted_at__isnull=True)
    context = {"exports": export_links(list(kept)), "link_hours": closing.LINK_SECONDS // 3600}
    response = render(request, "portal/data_export.html", context)
    response["Cache-Control"] = "no-store"
    return response


def export_response(request: HttpRequest, *, token: str, client_id: int | None) -> FileResponse:
    """The export a signed link names (404 when the link is wrong, stale or of another company)."""
    try:
        export = closing.access_export(token=token, client_id=client_id)
    except LookupError as error:
        raise Http404(str(error)) from None
    path = closing.export_file(export)
    if not path.exists():
        raise Http404("This export is no longer kept.")
    record_event(
        actor=request.user, action="export.downloaded", obj=export, client=export.client,
        after={"path": export.path}, ip=client_ip(request),
    )  # fmt: skip
    response = FileResponse(path.open("rb"), as_attachment=True, filename=export.filename)
    response["Cache-Control"] = "no-store"
    return response


@login_required
def data_export_download(request: HttpRequest, token: str) -> FileResponse:
    require(CLIENT_ADMINS, request.user)
    return export_response(request, token=token, client_id=request.tenant.pk)
