"""Password reset by e-mail on every host, with Django's own views.

Each host has its own user table (the platform's staff in public, each client company's staff in its
schema), so the form finds the account in the host's schema and the link points back to the same
host. Each request counts against the address's limit (``accounts.throttling``), so the form cannot
be used to flood a mailbox; unknown addresses get the same answer as known ones.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.http import HttpResponse

from accounts.throttling import record_reset_request

RESET_REQUEST_PATH = "/password-reset/"


class PasswordResetRequestView(auth_views.PasswordResetView):
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
