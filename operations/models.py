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
