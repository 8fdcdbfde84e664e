"""Inviting a colleague into a client company's portal."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tenants.utils import tenant_context

from accounts.models import User
from accounts.tasks import send_invitation
from config.celery import send_after_commit
from tenants.audit import record_event


@dataclass
class Invitation:
    """A colleague invited: who, and whether the e-mail's task was sent (None until the
    transaction that created them commits)."""

    user: User
    sent: bool | None = None


def invite_member(
    *, invited_by: User, host: str, secure: bool, email: str, first_name: str, last_name: str, role: str
) -> Invitation:
    """Create the colleague without a password and e-mail a link to choose one (via Celery). A send
    that fails is logged and leaves them invited: an admin sends it again (``invite_again``)."""
    # The commit may come after the caller left this schema (an outer transaction opened on the
    # platform host): the task is sent from this tenant's context, or it would run in public.
    tenant = connection.tenant
    with transaction.atomic():
        user = User(username=email, email=email, first_name=first_name, last_name=last_name, role=role)
        user.set_unusable_password()
        user.full_clean()
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as exc:  # the same person invited twice at once: the other won
            raise ValidationError({"email": "Somebody with this e-mail is already in your team."}) from exc
        link = invitation_link(user=user, host=host, secure=secure)
        inviter = invited_by.get_full_name()
        invitation = Invitation(user)

        def send() -> None:
            with tenant_context(tenant):
                invitation.sent = send_after_commit(
                    send_invitation, user_id=user.pk, link=link, invited_by=inviter
                )

        transaction.on_commit(send)
    return invitation


def invite_again(*, member: User, invited_by: User, host: str, secure: bool) -> bool:
    """A client admin e-mails an invited colleague a fresh link (``send_again``), audited; True
    when its task was sent."""
    sent = send_again(member=member, inviter=invited_by.get_full_name(), host=host, secure=secure)
    record_event(actor=invited_by, action="member.invited_again", obj=member, client=connection.tenant,
                 after={"user": member.username, "sent": sent})  # fmt: skip
    return sent


def send_again(*, member: User, inviter: str, host: str, secure: bool) -> bool:
    """E-mail an invited colleague a fresh link (the first e-mail was lost, or its link expired);
    True when its task was sent. Only for an active colleague who never chose a password. Run in
    their company's schema."""
    if not member.invited:
        raise ValidationError(
            "Only an active colleague who has not chosen a password yet can be invited again."
        )
    link = invitation_link(user=member, host=host, secure=secure)
    return send_after_commit(send_invitation, user_id=member.pk, link=link, invited_by=inviter)


def invitation_link(*, user: User, host: str, secure: bool) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    return f"{'https' if secure else 'http'}://{host}{path}"
