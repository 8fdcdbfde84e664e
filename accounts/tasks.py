"""Celery entry points for people: thin, idempotent, ids not objects."""

from __future__ import annotations

from django.core.mail import send_mail
from django.db import connection

from accounts.models import User
from config.celery import tenant_task


@tenant_task(bind=True, max_retries=5, default_retry_delay=30)
def send_invitation(self, *, user_id: int, link: str, invited_by: str) -> dict[str, object]:
    """E-mail an invited colleague the link to choose a password, from the tenant's schema."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or user.has_usable_password():
        return {"schema": connection.schema_name, "sent": False}
    company = connection.tenant.name
    send_mail(
        subject=f"{invited_by or 'A colleague'} invited you to {company}'s portal",
        message=(
            f"Hello {user.first_name},\n\nyou have been invited to {company}'s portal.\n"
            f"Choose your password here: {link}\n\n"
            "The link works once, for a few days. After that, ask for a new one with "
            '"Forgot your password?" on the portal\'s login page.\n'
        ),
        from_email=None,
        recipient_list=[user.email],
    )
    return {"schema": connection.schema_name, "sent": True, "email": user.email}
