"""Outgoing event webhooks of a client company (tenant schema): endpoints, events, deliveries, attempts.

An event is written once (``dedupe_key``); each active endpoint subscribed to its type gets one
delivery (unique per event and endpoint), tried until it succeeds or runs out of attempts; every
try is kept as an attempt.
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


class EventType(models.TextChoices):
    CALL_COMPLETED = "call.completed", "Call completed"
    INVOICE_ISSUED = "invoice.issued", "Invoice issued"


TEST_EVENT = "webhook.test"  # sent by the “send test event” button, to one endpoint only


class WebhookEndpoint(models.Model):
    """Where this client company wants its events posted, and the secret their signature uses.

    The secret is stored as is (we must sign with it; a hash would not do), lives in the client
    company's own schema, and is shown once on creation and on rotation, never again. After a
    rotation the old secret may keep signing for a while, so receivers can switch without a gap.
    """

    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = ArrayField(models.CharField(max_length=40, choices=EventType.choices))
    active = models.BooleanField(default=True)
    secret = models.CharField(max_length=80)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    previous_secret = models.CharField(
        max_length=80, blank=True, help_text="Still signs (as a second v1) until previous_secret_until."
    )
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by_name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(events=[]), name="webhook_endpoint_has_events"),
        ]

    def __str__(self) -> str:
        return self.url

    @property
    def secret_hint(self) -> str:
        """The end of the secret, enough to tell two apart."""
        return f"…{self.secret[-4:]}"


class WebhookEvent(models.Model):
    """Something that happened, as the JSON every endpoint gets; written once per ``dedupe_key``.

    Ids are integers (tenant schemas are filled by ``tenants.schemas``, which expects them);
    ``uid`` is the id we show outside.
    """

    uid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=40)
    created = models.DateTimeField()
    data = models.JSONField(default=dict)
    dedupe_key = models.CharField(max_length=200, unique=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.type} {self.uid}"

    @property
    def public_id(self) -> str:
        return f"evt_{self.uid.hex}"


class WebhookDelivery(models.Model):
    """One event to one endpoint: tried until delivered, or until it fails for good."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    uid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    leased_until = models.DateTimeField(
        null=True, blank=True, help_text="A worker is trying it until then; nobody else may."
    )
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once_per_endpoint"),
            models.CheckConstraint(
                condition=~Q(state="pending") | Q(finished_at__isnull=True), name="webhook_pending_unfinished"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(state="pending"), name="webhook_delivery_due"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id} ({self.state})"

    @property
    def public_id(self) -> str:
        return f"dlv_{self.uid.hex}"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery and what came back."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_number_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}: {self.status_code or self.error}"
