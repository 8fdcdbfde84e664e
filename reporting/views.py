"""Portal pages of reporting: the client company's API keys (created and revoked by its admins)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import CLIENT_ADMINS, require
from reporting.keys import ApiKey, Scope, api_key_create, api_key_revoke


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses the key, e.g. “CRM sync”.")
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)


@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    """The keys (never their text), and a form for a new one whose text is shown this once."""
    require(CLIENT_ADMINS, request.user)
    created = None
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _, created = api_key_create(
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            by=request.user.get_full_name() or request.user.username,
        )
        form = ApiKeyForm()
    response = render(
        request, "portal/api_keys.html", {"keys": ApiKey.objects.all(), "form": form, "created": created}
    )
    response["Cache-Control"] = "no-store"  # the page may hold a key's text
    return response


@login_required
@require_POST
def api_key_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    require(CLIENT_ADMINS, request.user)
    api_key_revoke(key=get_object_or_404(ApiKey, pk=pk))
    return redirect("api_keys")
