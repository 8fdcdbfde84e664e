"""Quality scoring of recorded calls (R21), in each client company's own schema.

A company has one scorecard, kept as numbered versions: a version is edited in place until a call
is scored with it; after that an edit makes the next version, so old scores keep their meaning.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class ScorecardVersion(models.Model):
    """One version of the company's scorecard: its criteria are fixed once a call is scored with it."""

    number = models.PositiveIntegerField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"scorecard v{self.number}"

    @property
    def in_use(self) -> bool:
        return self.scores.exists()


class Criterion(models.Model):
    """What a scorer judges, worth ``weight`` in the total: points out of ``max_points``, or yes/no."""

    class Kind(models.TextChoices):
        POINTS = "points", "Points"
        YES_NO = "yes_no", "Yes / no"

    version = models.ForeignKey(ScorecardVersion, on_delete=models.CASCADE, related_name="criteria")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=120)
    help = models.CharField(max_length=300, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.POINTS)
    max_points = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    weight = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "position"], name="criterion_position_unique"),
            models.UniqueConstraint(fields=["version", "name"], name="criterion_name_unique"),
            models.CheckConstraint(condition=Q(weight__gte=1), name="criterion_weight_positive"),
            models.CheckConstraint(condition=Q(max_points__gte=1), name="criterion_max_positive"),
            models.CheckConstraint(
                condition=~Q(kind="yes_no") | Q(max_points=1), name="criterion_yes_no_is_one_point"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Score(models.Model):
    """A scorer's judgement of one call with one scorecard version (one per call and version)."""

    call = models.ForeignKey("calls.Call", on_delete=models.CASCADE, related_name="quality_scores")
    version = models.ForeignKey(ScorecardVersion, on_delete=models.PROTECT, related_name="scores")
    # Denormalised from the call: the per-operator report reads scores alone.
    operator_id = models.IntegerField(null=True, blank=True, help_text="Platform user id (public schema).")
    operator_name = models.CharField(max_length=150, blank=True)
    scorer_id = models.IntegerField(help_text="Platform user id (public schema).")
    scorer_name = models.CharField(max_length=150)
    scored_at = models.DateTimeField()
    percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
        help_text="Weighted total: sum(weight * points / max) / sum(weight), in percent.",
    )
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-scored_at"]
        constraints = [
            models.UniqueConstraint(fields=["call", "version"], name="score_one_per_call_and_version"),
            models.CheckConstraint(
                condition=Q(percent__gte=0) & Q(percent__lte=100), name="score_percent_in_range"
            ),
        ]
        indexes = [models.Index(fields=["operator_id", "scored_at"])]

    def __str__(self) -> str:
        return f"{self.percent}% for {self.call_id}"


class Mark(models.Model):
    """The points given for one criterion of a score, with the scorer's comment."""

    score = models.ForeignKey(Score, on_delete=models.CASCADE, related_name="marks")
    criterion = models.ForeignKey(Criterion, on_delete=models.PROTECT, related_name="marks")
    points = models.PositiveSmallIntegerField()
    comment = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["criterion__position"]
        constraints = [
            models.UniqueConstraint(fields=["score", "criterion"], name="mark_one_per_criterion"),
        ]

    def __str__(self) -> str:
        return f"{self.criterion}: {self.points}"
