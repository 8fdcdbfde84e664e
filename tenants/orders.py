"""Orders: what a company asks for on the public order form, the first step of onboarding.

An order is saved once per form token and confirmed by e-mail on commit; an account manager then
drafts its contract (``tenants.contracting``) or rejects it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from accounts.models import User
from tenants.audit import record_event
from tenants.models import Order, Service
from tenants.onboarding import OnboardingError


def order_submit(
    *,
    token: str,
    services: list[Service],
    fields: dict[str, object],
    draft_script: UploadedFile | None = None,
    ip: str | None = None,
) -> tuple[Order, bool]:
    """Save an order once per form token; a resubmission returns the first order and ``False``."""
    existing = Order.objects.filter(token=token).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            order = Order(token=token, submitted_ip=ip, **fields)
            order.full_clean(exclude=["draft_script", "client"])
            order.save()
            order.services.set(services)
            if draft_script is not None:
                order.draft_script.save(draft_script.name, draft_script, save=True)
            record_event(actor=None, action="order.submitted", obj=order, after={"state": order.state}, ip=ip)
            transaction.on_commit(lambda: _send_order_confirmation(order.pk))
    except IntegrityError:
        # Two requests with the same token raced (a double click): the other one won.
        order = Order.objects.filter(token=token).first()
        if order is None:  # the other request took the portal address
            raise ValidationError(
                {"portal_slug": "This address is already taken; please choose another."}
            ) from None
        return order, False
    return order, True


def _send_order_confirmation(order_id: int) -> None:
    order = Order.objects.prefetch_related("services").get(pk=order_id)
    services = "\n".join(f"- {s.name}" for s in order.services.all())
    send_mail(
        subject=f"{settings.PLATFORM_NAME}: we received your order",
        message=(
            f"Hello {order.contact_first_name},\n\nthank you for your order for {order.legal_name}.\n"
            f"Services:\n{services}\n\nAn account manager will prepare your contract and send you an "
            f"invitation to your portal at {order.portal_slug}.{settings.PLATFORM_HOST}.\n\n"
            f"Your order number: {order.pk}\n"
        ),
        from_email=None,
        recipient_list=[order.contact_email],
    )


def order_reject(*, order: Order, by: User, reason: str) -> Order:
    """Close an order that will not become a contract."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.state not in (Order.State.SUBMITTED, Order.State.DRAFTING):
            raise OnboardingError("Only an order whose contract was not sent can be rejected.")
        before = order.state
        order.state = Order.State.REJECTED
        order.save(update_fields=["state", "updated_at"])
        record_event(
            actor=by,
            action="order.rejected",
            obj=order,
            before={"state": before},
            after={"state": order.state, "reason": reason},
        )
    return order
