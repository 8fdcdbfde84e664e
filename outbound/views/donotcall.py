"""The do-not-call list page, shared by the company's list (portal) and the platform's (back office):
the same search, add form and upload, each side passing its own model, add functions and template."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from outbound.donotcall import phones_from_table
from outbound.forms import DoNotCallForm, DoNotCallUploadForm
from outbound.importing import ListError, read_table

Page = Callable[..., HttpResponse]


def dnc_page(
    request: HttpRequest, model: type[Model], template: str, *, status: int = 200, **extra: Any
) -> HttpResponse:
    """A do-not-call list page: the company's in the portal, the platform's in the back office."""
    query = request.GET.get("q", "").strip()
    entries = model.objects.all()
    if query:
        entries = entries.filter(phone__contains=query)
    context = {
        "entries": entries[:500],
        "total": model.objects.count(),
        "query": query,
        "form": extra.pop("form", None) or DoNotCallForm(prefix="add"),
        "upload_form": extra.pop("upload_form", None) or DoNotCallUploadForm(prefix="up"),
        **extra,
    }
    return render(request, template, context, status=status)


def _by(request: HttpRequest) -> str:
    return request.user.get_full_name() or request.user.username


def add_number(request: HttpRequest, *, add: Callable[..., bool], page: Page, done_url: str) -> HttpResponse:
    """The add form: GET shows the page; a valid POST adds the number and goes back to ``done_url``."""
    form = DoNotCallForm(request.POST or None, prefix="add")
    if request.method != "POST":
        return page(request, form=form)
    if not form.is_valid():
        return page(request, form=form, status=400)
    number = form.cleaned_data["e164"]
    created = add(phone=number, reason=form.cleaned_data["reason"], by_name=_by(request))
    messages.success(request, f"{number} added." if created else f"{number} was on the list already.")
    return redirect(done_url)


def upload_numbers(request: HttpRequest, *, add_many: Callable[..., int], page: Page) -> HttpResponse:
    """An uploaded list of numbers added at once; unreadable files and rows are reported, not added."""
    form = DoNotCallUploadForm(request.POST, request.FILES, prefix="up")
    if not form.is_valid():
        return page(request, upload_form=form, status=400)
    upload = form.cleaned_data["file"]
    try:
        table = read_table(upload.read(), upload.name)
    except ListError as exc:
        form.add_error("file", str(exc))
        return page(request, upload_form=form, status=400)
    phones, rejections = phones_from_table(table, region=form.cleaned_data["region"])
    added = add_many(phones=phones, by_name=_by(request))
    messages.success(request, f"{added} numbers added, {len(phones) - added} were on the list already.")
    return page(request, rejections=rejections[:500], rejected=len(rejections))
