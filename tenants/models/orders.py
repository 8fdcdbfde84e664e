"""Order forms sent by prospective client companies from the platform's public site."""

from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from tenants.models.clients import SLUG_PATTERN
from tenants.queue_terms import DEFAULT_QUEUE_NAME, QueueTerms, row_from_terms


def draft_script_path(order: Order, filename: str) -> str:
    """Uploads are kept under the order's own prefix (the tenant does not exist yet)."""
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"orders/{order.token}/draft-script.{suffix}"


class Order(models.Model):
    """What a prospective client company asks for (R3); an account manager turns it into a contract."""

    class State(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        DRAFTING = "drafting", "Contract in drafting"
        SENT = "sent", "Contract sent"
        ACCEPTED = "accepted", "Contract accepted"
        ACTIVE = "active", "Client active"
        REJECTED = "rejected", "Rejected"

    class Coverage(models.TextChoices):
        ALWAYS = "24x7", "24 hours, 7 days"
        BUSINESS = "business", "Business hours"

    token = models.UUIDField(
        unique=True, default=uuid.uuid4, help_text="The form's token: one order per form."
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.SUBMITTED)
    services = models.ManyToManyField("tenants.Service", related_name="orders")
    legal_name = models.CharField(max_length=200)
    registration_number = models.CharField(max_length=40)
    tax_number = models.CharField(max_length=40)
    address = models.TextField(max_length=500)
    portal_slug = models.CharField(
        max_length=42, validators=[RegexValidator(SLUG_PATTERN, "Lower-case letters, digits and hyphens.")]
    )
    contact_first_name = models.CharField(max_length=150)
    contact_last_name = models.CharField(max_length=150)
    contact_email = models.EmailField()
    contact_phone = models.CharField(max_length=20)
    calls_per_month = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(10_000_000)]
    )
    peak_hour_calls = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(100_000)]
    )
    coverage = models.CharField(max_length=16, choices=Coverage.choices)
    coverage_hours = models.CharField(max_length=100, blank=True, help_text="e.g. Mon-Fri 08:00-18:00")
    time_zone = models.CharField(max_length=64)
    languages = models.JSONField(default=list)
    start_date = models.DateField()
    numbers_wanted = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    # What the client asks of the shared pool (issue 20): proposed in the contract's draft, where
    # the account manager settles it. Blank: the standard service level, no reserved seats.
    sl_percent = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(50), MaxValueValidator(100)],
        help_text="Service level wanted: this percent of calls answered…",
    )  # fmt: skip
    sl_seconds = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(5), MaxValueValidator(300)],
        help_text="…within this many seconds.",
    )  # fmt: skip
    reserved_seats = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(500)],
        help_text="Operators reserved for your calls (priced per contract).",
    )  # fmt: skip
    # The queues asked for (issue 20), each {name, sl_percent, sl_seconds, reserved_seats}; the
    # first is the main queue. Empty on orders of the first form: the three columns above, read
    # as the main queue's by ``tenants.contracts.order_queue_terms``.
    queues = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True, max_length=2000)
    draft_script = models.FileField(upload_to=draft_script_path, blank=True)
    client = models.OneToOneField(
        "tenants.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="order"
    )
    submitted_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["submitted", "drafting", "sent", "accepted", "active", "rejected"]),
                name="order_state_known",
            ),
            models.CheckConstraint(
                condition=Q(peak_hour_calls__lte=models.F("calls_per_month")), name="order_peak_within_month"
            ),
            models.UniqueConstraint(
                fields=["portal_slug"],
                condition=~Q(state="rejected"),
                name="order_portal_slug_unique_when_open",
                violation_error_message="This portal address is already taken; please choose another.",
            ),
        ]

    def __str__(self) -> str:
        return f"Order {self.pk} · {self.legal_name}"

    @property
    def queue_terms(self) -> list[QueueTerms]:
        """The queues asked for, with their service level and reserved seats (no caps: the account
        manager settles those); an order of the first form (one service level) asks for the main
        queue only; a row without a service level gets the standard one."""
        rows = self.queues or [
            {"name": DEFAULT_QUEUE_NAME, "sl_percent": self.sl_percent, "sl_seconds": self.sl_seconds,
             "reserved_seats": self.reserved_seats}
        ]  # fmt: skip
        return [row_from_terms({**row, "max_seats": None, "max_share_percent": None}) for row in rows]

    @property
    def contact_name(self) -> str:
        return f"{self.contact_first_name} {self.contact_last_name}".strip()
