"""Pages of a client company's portal, on its own host; everything runs in its schema."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import invitations
from accounts.models import CLIENT_ROLES, Role, User


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail")
    first_name = forms.CharField(label="First name", max_length=150)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)
    role = forms.ChoiceField(
        label="Role", choices=[(r.value, r.label) for r in Role if r in CLIENT_ROLES]
    )

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("Somebody with this e-mail is already in your team.")
        return email


def _client_member(request: HttpRequest) -> User:
    user = request.user
    if user.role not in CLIENT_ROLES:
        raise PermissionDenied("Client company staff only.")
    return user


@login_required
def home(request: HttpRequest) -> HttpResponse:
    _client_member(request)
    return render(request, "portal/home.html")


@login_required
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest) -> HttpResponse:
    user = _client_member(request)
    form = InviteForm(request.POST or None)
    if request.method == "POST":
        if user.role != Role.CLIENT_ADMIN:
            raise PermissionDenied("Only your company's admins invite people.")
        if form.is_valid():
            invited = invitations.invite_member(
                invited_by=user, host=request.get_host(), secure=request.is_secure(), **form.cleaned_data
            )
            messages.success(request, f"Invitation sent to {invited.email}.")
            return redirect("team")
    members = User.objects.order_by("last_name", "first_name", "username")
    return render(request, "portal/team.html", {"members": members, "form": form})
