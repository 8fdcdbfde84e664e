"""Campaign pages of a client company's portal (/campaigns/): list, settings, list import, control,
results and the do-not-call list. Admins and editors manage; viewers read."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from outbound import control
from outbound.donotcall import dnc_add, dnc_add_many, dnc_remove
from outbound.forms import CampaignForm, MappingForm, UploadForm
from outbound.importing import (
    ListError,
    Rejection,
    guess_mapping,
    import_contacts,
    preview,
    read_table,
    rejections_csv,
    safe_cell,
)
from outbound.models import Campaign, CampaignContact, ContactImport, DoNotCall
from outbound.results import campaign_results
from outbound.views.access import access_campaign, access_import, can_manage, require_manager, require_reader
from outbound.views.donotcall import add_number, dnc_page, upload_numbers

EDITABLE_STATES = (Campaign.State.DRAFT, Campaign.State.RUNNING, Campaign.State.PAUSED)


def detail_context(campaign: Campaign) -> dict[str, Any]:
    """What the campaign page shows, in the portal and the back office alike."""
    return {
        "campaign": campaign,
        "results": campaign_results(campaign),
        "actions": control.allowed_actions(campaign),
        "imports": campaign.imports.defer("data")[:10],
        "contacts": campaign.contacts.select_related("contact").order_by("-priority", "next_due_at", "pk")[
            :50
        ],
    }


@login_required
@require_GET
def campaign_list(request: HttpRequest) -> HttpResponse:
    require_reader(request)
    campaigns = Campaign.objects.select_related("script").annotate(n_contacts=Count("contacts"))
    return render(
        request, "outbound/list.html", {"campaigns": campaigns, "can_manage": can_manage(request.user)}
    )


@login_required
@require_http_methods(["GET", "POST"])
def campaign_create(request: HttpRequest) -> HttpResponse:
    require_manager(request)
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        campaign = form.save(commit=False)
        campaign.created_by_name = request.user.get_full_name() or request.user.username
        campaign.save()
        messages.success(request, f"Campaign “{campaign.name}” created. Now import its contact list.")
        return redirect("campaign_detail", pk=campaign.pk)
    status = 400 if form.errors else 200
    return render(request, "outbound/form.html", {"form": form, "campaign": None}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = access_campaign(request, pk, manage=True)
    if campaign.state not in EDITABLE_STATES:
        messages.error(request, f"A {campaign.get_state_display().lower()} campaign cannot be changed.")
        return redirect("campaign_detail", pk=campaign.pk)
    form = CampaignForm(request.POST or None, instance=campaign)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Settings saved.")
        return redirect("campaign_detail", pk=campaign.pk)
    status = 400 if form.errors else 200
    return render(request, "outbound/form.html", {"form": form, "campaign": campaign}, status=status)


def _detail(request: HttpRequest, campaign: Campaign, *, status: int = 200, **extra: Any) -> HttpResponse:
    context = {
        **detail_context(campaign),
        "can_manage": can_manage(request.user),
        "upload_form": extra.pop("upload_form", None) or UploadForm(),
        **extra,
    }
    return render(request, "outbound/detail.html", context, status=status)


@login_required
@require_GET
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, access_campaign(request, pk))


@login_required
@require_GET
def campaign_contacts(request: HttpRequest, pk: int) -> HttpResponse:
    """The campaign's contacts, filtered by state, 100 a page; ``?format=csv`` downloads them all."""
    campaign = access_campaign(request, pk)
    state = request.GET.get("state", "")
    entries = campaign.contacts.select_related("contact").order_by("-priority", "next_due_at", "pk")
    if state in CampaignContact.State.values:
        entries = entries.filter(state=state)
    if request.GET.get("format") == "csv":
        return _contacts_csv(campaign, entries)
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    context = {"campaign": campaign, "page": page, "state": state, "states": CampaignContact.State.choices}
    return render(request, "outbound/contacts.html", context)


def _contacts_csv(campaign: Campaign, entries: Any) -> StreamingHttpResponse:
    def rows() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "phone",
                "first_name",
                "last_name",
                "timezone",
                "state",
                "attempts",
                "last_outcome",
                "last_attempt_at",
                "fields",
            ]
        )
        for e in entries.iterator(chunk_size=2000):
            writer.writerow(
                [
                    e.phone,
                    safe_cell(e.contact.first_name),
                    safe_cell(e.contact.last_name),
                    e.timezone,
                    e.state,
                    e.attempts,
                    e.last_outcome,
                    e.last_attempt_at.isoformat() if e.last_attempt_at else "",
                    safe_cell(json.dumps(e.fields, ensure_ascii=False)),
                ]
            )
            yield out.getvalue()
            out.seek(0)
            out.truncate()
        yield out.getvalue()

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-contacts.csv"'
    return response


@login_required
@require_POST
def campaign_control(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = access_campaign(request, pk, manage=True)
    action = request.POST.get("action", "")
    try:
        control.campaign_control(campaign=campaign, action=action, now=timezone.now())
    except control.CampaignError as exc:
        return _detail(request, campaign, status=409, error=str(exc))
    messages.success(request, f"Campaign {campaign.get_state_display().lower()}.")
    return redirect("campaign_detail", pk=campaign.pk)


@login_required
@require_POST
def campaign_upload(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = access_campaign(request, pk, manage=True)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _detail(request, campaign, status=400, upload_form=form)
    upload = form.cleaned_data["file"]
    data = upload.read()
    try:
        table = read_table(data, upload.name)
    except ListError as exc:
        form.add_error("file", str(exc))
        return _detail(request, campaign, status=400, upload_form=form)
    imported = ContactImport.objects.create(
        campaign=campaign,
        filename=upload.name[:200],
        data=data,
        headers=table.headers,
        preview=preview(table),
        rows=len(table.rows),
        encoding=table.encoding,
        by_name=(request.user.get_full_name() or request.user.username)[:150],
    )
    return redirect("campaign_import_mapping", pk=campaign.pk, import_pk=imported.pk)


@login_required
@require_http_methods(["GET", "POST"])
def import_mapping(request: HttpRequest, pk: int, import_pk: int) -> HttpResponse:
    campaign = access_campaign(request, pk, manage=True)
    imported = access_import(request, campaign, import_pk)
    if imported.state == ContactImport.State.IMPORTED:
        return redirect("campaign_import_result", pk=campaign.pk, import_pk=imported.pk)
    initial = {k: v for k, v in guess_mapping(imported.headers).items() if v is not None}
    form = MappingForm(request.POST or None, headers=imported.headers, initial=initial)
    if request.method == "POST" and form.is_valid():
        # Locked, and in one transaction with the contacts: a double submit imports once, and a
        # failure leaves the upload ready to map again.
        with transaction.atomic():
            imported = ContactImport.objects.select_for_update().get(pk=imported.pk)
            if imported.state != ContactImport.State.IMPORTED:
                table = read_table(bytes(imported.data), imported.filename)
                result = import_contacts(
                    campaign=campaign,
                    table=table,
                    mapping=form.mapping(),
                    priority=form.cleaned_data["priority"],
                )
                imported.state = ContactImport.State.IMPORTED
                imported.mapping = form.mapping()
                imported.created, imported.updated = result.created, result.updated
                imported.merged, imported.blocked = result.merged, result.blocked
                imported.rejections = [[r.row, r.raw, r.reason] for r in result.rejections]
                imported.data = b""
                imported.imported_at = timezone.now()
                imported.save()
        return redirect("campaign_import_result", pk=campaign.pk, import_pk=imported.pk)
    status = 400 if form.errors else 200
    context = {"campaign": campaign, "imported": imported, "form": form}
    return render(request, "outbound/mapping.html", context, status=status)


@login_required
@require_GET
def import_result(request: HttpRequest, pk: int, import_pk: int) -> HttpResponse:
    campaign = access_campaign(request, pk)
    imported = access_import(request, campaign, import_pk)
    context = {"campaign": campaign, "imported": imported, "rejections": imported.rejections[:500]}
    return render(request, "outbound/import_result.html", context)


@login_required
@require_GET
def import_rejections(request: HttpRequest, pk: int, import_pk: int) -> HttpResponse:
    campaign = access_campaign(request, pk)
    imported = access_import(request, campaign, import_pk)
    text = rejections_csv(Rejection(row=r[0], raw=r[1], reason=r[2]) for r in imported.rejections)
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rejected-rows-{imported.pk}.csv"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def dnc_list(request: HttpRequest) -> HttpResponse:
    require_reader(request)
    if request.method == "POST":
        require_manager(request)
    return add_number(request, add=dnc_add, page=_dnc_page, done_url="campaign_dnc")


def _dnc_page(request: HttpRequest, *, status: int = 200, **extra: Any) -> HttpResponse:
    extra.setdefault("can_manage", can_manage(request.user))
    return dnc_page(request, DoNotCall, "outbound/dnc.html", status=status, **extra)


@login_required
@require_POST
def dnc_upload(request: HttpRequest) -> HttpResponse:
    require_manager(request)
    return upload_numbers(request, add_many=dnc_add_many, page=_dnc_page)


@login_required
@require_POST
def dnc_delete(request: HttpRequest, pk: int) -> HttpResponse:
    require_manager(request)
    entry = get_object_or_404(DoNotCall, pk=pk)
    if entry.source == DoNotCall.Source.OPT_OUT:
        return _dnc_page(
            request, status=409, error=f"{entry.phone} opted out during a call; it stays on the list."
        )
    dnc_remove(entry=entry)
    messages.success(request, f"{entry.phone} removed from the do-not-call list.")
    return redirect("campaign_dnc")
