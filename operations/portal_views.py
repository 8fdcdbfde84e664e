"""The service settings page of a client company's portal: its admins change hours, holidays,
greeting, after-hours behaviour and the specialists' directory; the rest of its staff read them.
Runs in the company's schema; each action calls one function of ``operations.service``."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import CLIENT_ADMINS, CLIENT_STAFF, require
from operations import callbacks, hold_music, service
from operations.service_forms import ServiceForm, SpecialistForm
from scripts_engine.models import Specialist
from telephony.calls.models import TelephonySettings
from tenants.models import AuditEvent

HISTORY = ("service.settings", "service.settings_scheduled", "service.specialist")


def _page(
    request: HttpRequest,
    *,
    form: ServiceForm,
    specialist_form: SpecialistForm,
    music_form: forms.Form | None = None,
    status: int = 200,
) -> HttpResponse:
    history = AuditEvent.objects.filter(client_id=request.tenant.pk, action__in=HISTORY).order_by(
        "-at", "-id"
    )[:30]
    context = {
        "form": form,
        "specialist_form": specialist_form,
        "music_form": music_form or HoldMusicForm(),
        "specialists": [_with_hours_text(s) for s in Specialist.objects.all()],
        "settings": TelephonySettings.current(),
        "events": history,
    }
    return render(request, "operations/service.html", context, status=status)


def _with_hours_text(specialist: Specialist) -> Specialist:
    specialist.hours_text = service.weekly_hours_text(specialist.hours or {})
    return specialist


@login_required
@require_http_methods(["GET", "POST"])
def service_settings(request: HttpRequest) -> HttpResponse:
    require(CLIENT_STAFF, request.user)
    current = TelephonySettings.current()
    if request.method == "GET":
        form = ServiceForm(initial=ServiceForm.initial_from(current))
        return _page(request, form=form, specialist_form=SpecialistForm())
    require(CLIENT_ADMINS, request.user)
    form = ServiceForm(request.POST, request.FILES)
    if form.is_valid():
        day = form.cleaned_data.get("effective_from")
        try:
            if day:
                service.settings_schedule(changes=form.changes(), effective_from=day, by=request.user)
            else:
                service.settings_change(changes=form.changes(), by=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            when = f"calls from {day:%Y-%m-%d} on" if day else "the next call"
            messages.success(request, f"Service settings saved: they apply from {when}.")
            return redirect("service_settings")
    return _page(request, form=form, specialist_form=SpecialistForm(), status=400)


@login_required
@require_POST
def specialist_save(request: HttpRequest) -> HttpResponse:
    require(CLIENT_ADMINS, request.user)
    form = SpecialistForm(request.POST)
    if form.is_valid():
        try:
            saved = service.specialist_save(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"{saved.name} saved.")
            return redirect("service_settings")
    settings_form = ServiceForm(initial=ServiceForm.initial_from(TelephonySettings.current()))
    return _page(request, form=settings_form, specialist_form=form, status=400)


@login_required
@require_POST
def specialist_remove(request: HttpRequest, key: str) -> HttpResponse:
    require(CLIENT_ADMINS, request.user)
    if service.specialist_remove(key=key, by=request.user):
        messages.success(request, "Specialist removed.")
    return redirect("service_settings")


@login_required
def callback_list(request: HttpRequest) -> HttpResponse:
    """The company's callbacks: due now, booked for later, being called, done, given up."""
    require(CLIENT_STAFF, request.user)
    state = request.GET.get("state", "due")
    state = state if state in callbacks.FILTERS or state == "all" else "due"
    now = timezone.now()
    found = list(callbacks.filtered("" if state == "all" else state, now=now)[:200])
    tallies = callbacks.counts(now=now)
    tabs = [(name, label, tallies[name]) for name, (label, _) in callbacks.FILTERS.items()]
    context = {
        "rows": callbacks.rows(found, now=now),
        "state": state,
        "tabs": tabs,
        "zone": callbacks.company_zone(),
    }
    return render(request, "operations/callbacks.html", context)


class HoldMusicForm(forms.Form):
    hold_music = forms.FileField(label="Hold music (MP3 or WAV)", help_text="At most 15 minutes.")


@login_required
@require_POST
def hold_music_upload(request: HttpRequest) -> HttpResponse:
    require(CLIENT_ADMINS, request.user)
    form = HoldMusicForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["hold_music"]
        try:
            hold_music.hold_music_set(
                upload=upload.file, size=upload.size, by=request.user,
                url_for=lambda token, ext: request.build_absolute_uri(
                    reverse("service_hold_music", args=[token, ext])
                ),
            )  # fmt: skip
        except ValidationError as error:
            form.add_error("hold_music", error)
        else:
            messages.success(request, "Hold music saved: callers hear it from the next call.")
            return redirect("service_settings")
    settings_form = ServiceForm(initial=ServiceForm.initial_from(TelephonySettings.current()))
    return _page(request, form=settings_form, specialist_form=SpecialistForm(), music_form=form, status=400)


@require_GET
def hold_music_file(request: HttpRequest, token: str, extension: str) -> HttpResponse:
    """The company's hold music, for Twilio to play (no login: the address is the secret)."""
    found = hold_music.served_file(token, extension)
    if found is None:
        raise Http404("No such hold music.")
    return FileResponse(found, content_type=hold_music.CONTENT_TYPES[extension])
