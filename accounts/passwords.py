"""Password reset by e-mail on every host, with Django's own views.

Each host has its own user table (the platform's staff in public, each client company's staff in its
schema), so the form finds the account in the host's schema and the link points back to the same
host. Each request counts against the address's limit (``accounts.throttling``), so the form cannot
be used to flood a mailbox; unknown addresses get the same answer as known ones.

A colleague invited who never chose a password may ask too (Django's form skips accounts without a
usable password): their invitation e-mail may have been lost, or its link expired, and a new
company's first admin has nobody to invite them again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpResponse

from accounts.models import User
from accounts.throttling import record_reset_request

RESET_REQUEST_PATH = "/password-reset/"


class ResetForm(PasswordResetForm):
    def get_users(self, email: str) -> Iterator[User]:
        """The active accounts of this address (in the host's schema) with a password, or invited
        and never logged in."""
        users = User.objects.filter(email__iexact=email, is_active=True)
        return (
            user
            for user in users
            if (user.has_usable_password() or user.invited) and user.email.casefold() == email.casefold()
        )


class PasswordResetRequestView(auth_views.PasswordResetView):
    form_class = ResetForm
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = "/password-reset/sent/"

    def form_valid(self, form: Any) -> HttpResponse:
        tenant = getattr(self.request, "tenant", None)
        is_platform = tenant is None or tenant.schema_name == "public"
        self.extra_email_context = {"company": None if is_platform else tenant.name}
        record_reset_request(self.request)
        return super().form_valid(form)


class PasswordResetSentView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"
