"""Outbound campaigns of a client company (tenant schema): the campaign, its contacts, each dial
attempt, and the company's do-not-call list. The platform-wide list is ``telephony.PlatformDoNotCall``.

Queues and phone numbers live in the public schema: a campaign keeps the queue's id and the caller
ID's number as plain values, as ``telephony.calls.Call`` does.
"""

from __future__ import annotations

import datetime as dt

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from tenants.phones import E164_PATTERN as E164
from tenants.phones import E164_VALIDATOR


def weekdays() -> list[int]:
    """Monday to Friday (Monday = 0), the default calling days."""
    return [0, 1, 2, 3, 4]


class Campaign(models.Model):
    """A list of contacts to call with one script, in their own calling window (R22)."""

    class Kind(models.TextChoices):
        SURVEY = "survey", "Survey"
        SALES = "sales", "Sales"

    class Mode(models.TextChoices):
        PREVIEW = "preview", "Preview (the operator sees the contact, then dials)"
        PROGRESSIVE = "progressive", "Progressive (dialed when an operator is free)"

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        STOPPED = "stopped", "Stopped"
        COMPLETED = "completed", "Completed"

    class MachineAction(models.TextChoices):
        HANG_UP = "hangup", "Hang up"
        MESSAGE = "message", "Leave a spoken message"
        RECORDING = "recording", "Play a recording"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.SURVEY)
    script = models.ForeignKey("scripts_engine.Script", on_delete=models.PROTECT, related_name="campaigns")
    queue_id = models.IntegerField(
        help_text="The platform queue whose operators make the calls (public schema)."
    )
    queue_name = models.CharField(max_length=80, blank=True)
    caller_id = models.CharField(max_length=16, validators=[E164_VALIDATOR], help_text="One of our numbers.")
    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.PROGRESSIVE)
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)

    starts_on = models.DateField(null=True, blank=True, help_text="First calling day (contact's local date).")
    ends_on = models.DateField(null=True, blank=True, help_text="Last calling day (contact's local date).")
    window_start = models.TimeField(default=dt.time(9, 0), help_text="Local time of the contact.")
    window_end = models.TimeField(default=dt.time(20, 0), help_text="Local time of the contact (exclusive).")
    window_days = models.JSONField(default=weekdays, help_text="Calling weekdays, Monday = 0.")
    default_region = models.CharField(
        max_length=2, default="US", help_text="Country of numbers written without +country code (ISO 3166)."
    )
    default_timezone = models.CharField(
        max_length=64, default="UTC", help_text="Time zone of contacts whose zone is not known."
    )

    max_attempts = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    # Minutes before the next try after this outcome; empty: never again.
    retry_busy_minutes = models.PositiveIntegerField(null=True, blank=True, default=15)
    retry_no_answer_minutes = models.PositiveIntegerField(null=True, blank=True, default=120)
    retry_machine_minutes = models.PositiveIntegerField(null=True, blank=True, default=240)
    retry_failed_minutes = models.PositiveIntegerField(null=True, blank=True, default=None)

    amd_enabled = models.BooleanField(default=False, help_text="Answering-machine detection.")
    machine_action = models.CharField(
        max_length=10, choices=MachineAction.choices, default=MachineAction.HANG_UP
    )
    machine_message = models.CharField(max_length=500, blank=True, help_text="Spoken to a machine.")
    machine_recording_url = models.URLField(blank=True, help_text="Played to a machine.")
    conversion_dispositions = models.JSONField(
        default=list, blank=True, help_text="Disposition codes that count as a sale."
    )

    created_at = models.DateTimeField(auto_now_add=True)
    created_by_name = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(
        max_length=300, blank=True, help_text="Why the platform paused it (empty when a person did)."
    )
    stopped_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["draft", "running", "paused", "stopped", "completed"]),
                name="campaign_state_known",
            ),
            models.CheckConstraint(
                condition=Q(window_start__lt=models.F("window_end")), name="campaign_window_order"
            ),
            models.CheckConstraint(
                condition=Q(starts_on__isnull=True)
                | Q(ends_on__isnull=True)
                | Q(starts_on__lte=models.F("ends_on")),
                name="campaign_schedule_order",
            ),
            models.CheckConstraint(condition=Q(max_attempts__gte=1), name="campaign_max_attempts_positive"),
            models.CheckConstraint(condition=Q(caller_id__regex=E164), name="campaign_caller_id_e164"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def dials(self) -> bool:
        """Whether new calls may start now (pausing stops them at once)."""
        return self.state == self.State.RUNNING

    def retry_minutes(self, outcome: str) -> int | None:
        """Minutes to wait after an unanswered outcome; None: no retry."""
        return {
            Attempt.Outcome.BUSY: self.retry_busy_minutes,
            Attempt.Outcome.NO_ANSWER: self.retry_no_answer_minutes,
            Attempt.Outcome.MACHINE: self.retry_machine_minutes,
            Attempt.Outcome.FAILED: self.retry_failed_minutes,
        }.get(outcome)


class CampaignContact(models.Model):
    """One number to call in a campaign, with its progress."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        IN_PROGRESS = "in_progress", "Being called"
        DONE = "done", "Reached"
        FAILED = "failed", "Failed (no retry)"
        DNC = "dnc", "Do not call"
        OPTED_OUT = "opted_out", "Opted out"
        EXHAUSTED = "exhausted", "Attempts used up"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="contacts")
    contact = models.ForeignKey("calls.Contact", on_delete=models.PROTECT, related_name="campaign_entries")
    phone = models.CharField(max_length=16, validators=[E164_VALIDATOR])
    timezone = models.CharField(max_length=64, help_text="IANA zone of the contact; always set.")
    fields = models.JSONField(default=dict, blank=True, help_text="Extra columns of the imported list.")
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_due_at = models.DateTimeField(null=True, blank=True, help_text="Empty: as soon as the window opens.")
    last_outcome = models.CharField(max_length=12, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    priority = models.SmallIntegerField(default=0, help_text="Higher first.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["campaign", "-priority", "next_due_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "phone"], name="campaign_contact_phone_unique"),
            models.CheckConstraint(condition=Q(phone__regex=E164), name="campaign_contact_phone_e164"),
            models.CheckConstraint(
                condition=Q(
                    state__in=["pending", "in_progress", "done", "failed", "dnc", "opted_out", "exhausted"]
                ),
                name="campaign_contact_state_known",
            ),
        ]
        indexes = [
            models.Index(
                fields=["campaign", "state", "-priority", "next_due_at"], name="campaign_contact_due"
            ),
            models.Index(fields=["phone"], name="campaign_contact_phone"),
        ]

    def __str__(self) -> str:
        return f"{self.phone} in {self.campaign_id}"


class Attempt(models.Model):
    """One dial of a campaign contact; at most one is open (no outcome yet) per contact."""

    class Outcome(models.TextChoices):
        ANSWERED = "answered", "Answered"
        BUSY = "busy", "Busy"
        NO_ANSWER = "no-answer", "No answer"
        MACHINE = "machine", "Answering machine"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    campaign_contact = models.ForeignKey(
        CampaignContact, on_delete=models.CASCADE, related_name="attempt_log"
    )
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="attempts")
    call = models.OneToOneField(
        "calls.Call", null=True, blank=True, on_delete=models.SET_NULL, related_name="campaign_attempt"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    operator_id = models.IntegerField(null=True, blank=True, help_text="Platform user id (public schema).")
    operator_name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign_contact"], condition=Q(outcome=""), name="attempt_one_open_per_contact"
            ),
            models.CheckConstraint(
                condition=Q(outcome="") | Q(ended_at__isnull=False), name="attempt_outcome_has_end"
            ),
        ]
        indexes = [models.Index(fields=["campaign", "outcome"], name="attempt_campaign_outcome")]

    def __str__(self) -> str:
        return f"attempt {self.pk} ({self.outcome or 'open'})"


class DoNotCall(models.Model):
    """A number this client company never dials again (its own do-not-call list)."""

    class Source(models.TextChoices):
        MANUAL = "manual", "Added by hand"
        UPLOAD = "upload", "Uploaded list"
        OPT_OUT = "opt_out", "Opted out during a call"

    phone = models.CharField(max_length=16, unique=True, validators=[E164_VALIDATOR])
    reason = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    added_by_name = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["phone"]
        verbose_name = "do-not-call number"
        constraints = [models.CheckConstraint(condition=Q(phone__regex=E164), name="dnc_phone_e164")]

    def __str__(self) -> str:
        return self.phone


class ContactImport(models.Model):
    """An uploaded contact list: kept between the upload and the column mapping, then its result."""

    class State(models.TextChoices):
        UPLOADED = "uploaded", "Waiting for the column mapping"
        IMPORTED = "imported", "Imported"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="imports")
    filename = models.CharField(max_length=200)
    data = models.BinaryField(help_text="The file until it is imported.")
    headers = models.JSONField(default=list)
    preview = models.JSONField(default=list, help_text="The first rows, for the mapping step.")
    rows = models.PositiveIntegerField(default=0)
    encoding = models.CharField(max_length=16, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.UPLOADED)
    mapping = models.JSONField(default=dict, blank=True)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    merged = models.PositiveIntegerField(default=0)
    blocked = models.PositiveIntegerField(default=0)
    rejections = models.JSONField(default=list, blank=True, help_text="[[row, raw value, reason], …]")
    by_name = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField(auto_now_add=True)
    imported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.filename} → {self.campaign}"
