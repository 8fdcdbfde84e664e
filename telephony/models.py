"""Phone numbers (the platform's pool, R7) and queues, in the public schema: routing sees all tenants."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from tenants.phones import E164_PATTERN as E164
from tenants.phones import E164_VALIDATOR


class PhoneNumber(models.Model):
    """A number of the pool; it belongs to at most one client company at a time.

    available: in the pool, no tenant. assigned: answers for its tenant (politely refusing while
    the tenant is suspended). releasing: its tenant closed; held until ``release_after``.
    """

    class State(models.TextChoices):
        AVAILABLE = "available", "Available"
        ASSIGNED = "assigned", "Assigned"
        RELEASING = "releasing", "Releasing"

    number = models.CharField(max_length=16, unique=True, validators=[E164_VALIDATOR])
    tenant = models.ForeignKey(
        "tenants.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="phone_numbers"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.AVAILABLE)
    assigned_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True, help_text="When its tenant closed.")
    release_after = models.DateTimeField(null=True, blank=True, help_text="End of the grace period.")
    label = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(condition=Q(number__regex=E164), name="phone_number_e164"),
            models.CheckConstraint(
                condition=(Q(state="available") & Q(tenant__isnull=True))
                | (Q(state="assigned") & Q(tenant__isnull=False))
                | (Q(state="releasing") & Q(tenant__isnull=False) & Q(release_after__isnull=False)),
                name="phone_number_state_matches_tenant",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def in_service(self) -> bool:
        """Whether calls to it reach the tenant's queue (False: play the polite 'suspended' message)."""
        return (
            self.state == self.State.ASSIGNED and self.tenant is not None and self.tenant.status == "active"
        )


class CompanyDaySettings(models.Model):
    """A client company's day as pages across companies see it (the wallboard): its time zone and
    short-abandon time, copied from its ``TelephonySettings`` on every save
    (``telephony.calls.company``), so such a page reads one public table instead of every schema."""

    tenant = models.OneToOneField(
        "tenants.Client", on_delete=models.CASCADE, primary_key=True, related_name="day_settings"
    )
    timezone = models.CharField(max_length=64, default="UTC")
    short_abandon_seconds = models.PositiveSmallIntegerField(default=5)

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.timezone}"


class Queue(models.Model):
    """Where a tenant's calls wait for an operator, with its routing settings (R13, R17, R20)."""

    tenant = models.ForeignKey("tenants.Client", on_delete=models.PROTECT, related_name="queues")
    name = models.CharField(max_length=80)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    ring_timeout = models.PositiveIntegerField(
        default=20, help_text="Seconds an offer rings on an operator's console before it goes to another."
    )
    overflow_after = models.PositiveIntegerField(
        default=30,
        help_text="Seconds of waiting after which the next skill tier (and then the overflow queue's "
        "operators) may take the call; 0 admits every tier at once.",
    )
    max_wait = models.PositiveIntegerField(
        default=600, help_text="Seconds before the caller is offered voicemail or a callback."
    )
    max_length = models.PositiveIntegerField(
        default=50, help_text="Calls waiting at most; more are not queued."
    )
    service_level_seconds = models.PositiveIntegerField(
        default=20, help_text="Service-level threshold: answered within this many seconds."
    )
    # The contract's terms for this queue (issue 20), provisioned from the contract in force: what
    # the router shares the pool by when operators are short (``telephony.routing.fairness``).
    sl_target_percent = models.PositiveSmallIntegerField(
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Service-level target: this percent of calls answered within the threshold.",
    )
    reserved_seats = models.PositiveIntegerField(
        default=0, help_text="Operators kept for this queue while its calls wait (0: none)."
    )
    max_seats = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="At most this many operators on its calls at once while others wait; blank: no cap.",
    )  # fmt: skip
    max_share_percent = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="At most this percent of the operators logged in at once while others wait; blank: no cap.",
    )  # fmt: skip
    overflow_queue = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="overflow_sources",
        help_text="Whose operators (the overflow group) may take this queue's calls after the overflow time.",
    )
    # The wallboard's alerts for this queue (R20); blank turns an alert off.
    alert_wait_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Alert when a call has waited longer than this many seconds; blank: the "
        "service-level threshold.",
    )
    alert_service_level = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        default=80,
        validators=[MaxValueValidator(100)],
        help_text="Alert when today's service level falls under this percent; blank: no alert.",
    )
    alert_abandon_rate = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(100)],
        help_text="Alert when today's abandon rate rises over this percent; blank: no alert.",
    )
    alert_waiting_calls = models.PositiveIntegerField(
        null=True, blank=True, help_text="Alert when more calls than this wait at once; blank: no alert."
    )

    class Meta:
        ordering = ["tenant", "-is_default", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="queue_name_unique_per_tenant"),
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(is_default=True), name="queue_one_default_per_tenant"
            ),
            models.CheckConstraint(condition=Q(ring_timeout__gte=1), name="queue_ring_timeout_positive"),
            models.CheckConstraint(
                condition=~Q(overflow_queue=models.F("id")), name="queue_overflow_not_itself"
            ),
            models.CheckConstraint(
                condition=Q(sl_target_percent__gte=1, sl_target_percent__lte=100),
                name="queue_sl_target_range",
            ),
            models.CheckConstraint(
                condition=Q(max_seats__isnull=True) | Q(max_seats__gte=models.F("reserved_seats")),
                name="queue_cap_covers_reservation",
                violation_error_message="The maximum seats cannot be fewer than the reserved seats.",
            ),
            models.CheckConstraint(
                condition=Q(max_share_percent__isnull=True)
                | Q(max_share_percent__gte=1, max_share_percent__lte=100),
                name="queue_max_share_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant} · {self.name}"


class UnservedCall(models.Model):
    """A call to a number no client company owns: answered politely, and kept here to look into."""

    call_sid = models.CharField(max_length=64, unique=True)
    from_number = models.TextField()  # as Twilio sent it, of any length (SIP URIs, "client:…")
    to_number = models.TextField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.from_number} → {self.to_number}"


class PlatformDoNotCall(models.Model):
    """A number no client company may dial (platform-wide do-not-call list, checked at dial time)."""

    phone = models.CharField(max_length=16, unique=True, validators=[E164_VALIDATOR])
    reason = models.CharField(max_length=200, blank=True)
    added_by_name = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["phone"]
        verbose_name = "platform do-not-call number"
        constraints = [models.CheckConstraint(condition=Q(phone__regex=E164), name="platform_dnc_phone_e164")]

    def __str__(self) -> str:
        return self.phone


from telephony.routing_models import (  # noqa: E402  (the router's tables, in the public schema)
    OperatorEvent,
    OperatorProfile,
    OutboundWork,
    Reservation,
    Skill,
    WaitingCall,
    certified_skills,
)
from telephony.supervision_models import (  # noqa: E402  (live supervision, in the public schema)
    MonitorDevice,
    Monitoring,
    MonitorMode,
    SupervisorProfile,
)

__all__ = [
    "MonitorDevice",
    "MonitorMode",
    "Monitoring",
    "OperatorEvent",
    "OperatorProfile",
    "OutboundWork",
    "PhoneNumber",
    "PlatformDoNotCall",
    "Queue",
    "Reservation",
    "Skill",
    "SupervisorProfile",
    "UnservedCall",
    "WaitingCall",
    "certified_skills",
]
