"""Operators' planned shifts, in the public schema (operators serve every client company)."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q


class Shift(models.Model):
    """A planned working period of an operator, with its unpaid break minutes."""

    operator = models.ForeignKey("telephony.OperatorProfile", on_delete=models.CASCADE, related_name="shifts")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    break_minutes = models.PositiveSmallIntegerField(default=0)
    note = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["operator", "starts_at"], name="shift_operator_start")]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="shift_ends_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.operator_id} {self.starts_at:%Y-%m-%d %H:%M} to {self.ends_at:%H:%M}"


class CertificationQuiz(models.Model):
    """A client company's certification quiz (R14): questions from its script and knowledge base,
    written by its account manager or its staff; an operator passes at ``pass_percent``.

    In the public schema beside the contract that sets how long a pass is valid, because the
    operators who take it, the router and the supervisors are the platform's. Each save is a new
    ``version``; an attempt is scored against the version it was shown."""

    client = models.OneToOneField(
        "tenants.Client", on_delete=models.CASCADE, related_name="certification_quiz"
    )
    text = models.TextField(help_text="The questions as written (operations.quiz format).")
    questions = models.JSONField(default=list, help_text="The parsed questions, as scored.")
    pass_percent = models.PositiveSmallIntegerField(default=80)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField()
    updated_by_name = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(pass_percent__gte=1) & Q(pass_percent__lte=100), name="quiz_pass_percent_1_100"
            ),
        ]

    def __str__(self) -> str:
        return f"quiz of {self.client_id} v{self.version}"


class Certification(models.Model):
    """An operator's certificate for one client company: its current state (the history is in
    ``CertificationEvent``). The router reads the same date from the skills it unlocks
    (``telephony.Skill.certified_until``)."""

    class State(models.TextChoices):
        CERTIFIED = "certified", "Certified"
        FAILED = "failed", "Failed (not certified)"
        EXPIRED = "expired", "Expired"
        VOIDED = "voided", "Voided by a major script change"
        REVOKED = "revoked", "Revoked by a supervisor"

    operator = models.ForeignKey(
        "telephony.OperatorProfile", on_delete=models.CASCADE, related_name="certifications"
    )
    client = models.ForeignKey("tenants.Client", on_delete=models.CASCADE, related_name="certifications")
    state = models.CharField(max_length=16, choices=State.choices)
    valid_until = models.DateTimeField(null=True, blank=True, help_text="Set while certified.")
    passed_at = models.DateTimeField(null=True, blank=True)
    score_percent = models.PositiveSmallIntegerField(null=True, blank=True, help_text="The last attempt.")
    failed_attempts = models.PositiveSmallIntegerField(default=0, help_text="Failures since the last pass.")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["client", "operator"]
        indexes = [models.Index(fields=["state", "valid_until"], name="certification_expiry")]
        constraints = [
            models.UniqueConstraint(
                fields=["operator", "client"], name="certification_one_per_operator_client"
            ),
            models.CheckConstraint(
                condition=Q(state__in=["certified", "failed", "expired", "voided", "revoked"]),
                name="certification_state_known",
            ),
            models.CheckConstraint(
                condition=~Q(state="certified") | Q(valid_until__isnull=False, passed_at__isnull=False),
                name="certification_certified_has_dates",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operator_id} for {self.client_id}: {self.state}"


class CertificationEvent(models.Model):
    """Every grant, failure, expiry, voiding and revocation of a certificate, with its time."""

    class Kind(models.TextChoices):
        GRANTED = "granted", "Passed: certified"
        FAILED = "failed", "Failed an attempt"
        EXPIRED = "expired", "Expired"
        VOIDED = "voided", "Voided (major script change)"
        REVOKED = "revoked", "Revoked"

    operator = models.ForeignKey(
        "telephony.OperatorProfile", on_delete=models.CASCADE, related_name="certification_events"
    )
    client = models.ForeignKey(
        "tenants.Client", on_delete=models.CASCADE, related_name="certification_events"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    at = models.DateTimeField()
    score_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    quiz_version = models.PositiveIntegerField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    by_name = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["client", "at"], name="certification_event_client")]

    def __str__(self) -> str:
        return f"{self.operator_id} {self.kind} for {self.client_id} at {self.at:%Y-%m-%d %H:%M}"
