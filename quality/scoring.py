"""Scorecards and scores (R21): the domain functions, run inside one client company's schema.

- ``weighted_percent`` is the pure formula: 100 * sum(weight * points / max) / sum(weight).
- ``scorecard_save`` edits the current version in place while no call is scored with it, and
  makes the next version otherwise, so an old score keeps the criteria it was given with.
- ``check_score_call`` validates a scorer's marks and writes the score and its marks in one
  transaction: one score per call and version, a second scoring of the call updates it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone

from quality.models import Criterion, Mark, Score, ScorecardVersion
from telephony.calls.models import Call

CENT = Decimal("0.01")


@dataclass(frozen=True)
class CriterionSpec:
    """A criterion as the scorecard editor gives it."""

    name: str
    kind: str = Criterion.Kind.POINTS
    max_points: int = 5
    weight: int = 1
    help: str = ""

    def key(self) -> tuple[str, str, int, int, str]:
        return (self.name, self.kind, self.max_points, self.weight, self.help)


def weighted_percent(marks: Iterable[tuple[int, int, int]]) -> Decimal:
    """``(weight, points, max_points)`` per criterion → the weighted total in percent (2 decimals)."""
    total_weight = Decimal(0)
    earned = Decimal(0)
    for weight, points, max_points in marks:
        total_weight += weight
        earned += Decimal(weight) * Decimal(points) / Decimal(max_points)
    if total_weight == 0:
        raise ValueError("a scorecard needs at least one weighted criterion")
    return _percent(100 * earned / total_weight)


def _percent(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def current_scorecard() -> ScorecardVersion | None:
    return ScorecardVersion.objects.prefetch_related("criteria").order_by("-number").first()


def _validate_specs(specs: Sequence[CriterionSpec]) -> None:
    errors = []
    if not specs:
        errors.append("A scorecard needs at least one criterion.")
    names = [s.name.strip().lower() for s in specs]
    for name in sorted({n for n in names if names.count(n) > 1}):
        errors.append(f"Two criteria are called “{name}”: give each its own name.")
    for spec in specs:
        if spec.kind not in Criterion.Kind.values:
            errors.append(f"“{spec.name}”: unknown kind {spec.kind!r}.")
        if not 1 <= spec.weight <= 100:
            errors.append(f"“{spec.name}”: the weight must be between 1 and 100.")
        if spec.kind == Criterion.Kind.POINTS and not 1 <= spec.max_points <= 100:
            errors.append(f"“{spec.name}”: the maximum must be between 1 and 100 points.")
    if errors:
        raise ValidationError(errors)


def scorecard_save(*, criteria: Sequence[CriterionSpec], by: str) -> ScorecardVersion:
    """Make ``criteria`` the company's scorecard: the same version while unused, else a new one."""
    specs = [
        CriterionSpec(
            name=c.name.strip(),
            kind=c.kind,
            max_points=1 if c.kind == Criterion.Kind.YES_NO else c.max_points,
            weight=c.weight,
            help=c.help.strip(),
        )
        for c in criteria
    ]
    _validate_specs(specs)
    with transaction.atomic():
        # The row lock orders this against a scorer writing the first score with this version.
        version = ScorecardVersion.objects.select_for_update().order_by("-number").first()
        if version is not None:
            existing = [
                CriterionSpec(name=c.name, kind=c.kind, max_points=c.max_points, weight=c.weight, help=c.help)
                for c in version.criteria.order_by("position")
            ]
            if [s.key() for s in existing] == [s.key() for s in specs]:
                return version
        if version is None or version.scores.exists():
            version = ScorecardVersion.objects.create(
                number=(version.number + 1) if version else 1, created_by=by[:150]
            )
        else:
            version.criteria.all().delete()
        Criterion.objects.bulk_create(
            Criterion(version=version, position=i, **spec.__dict__) for i, spec in enumerate(specs, start=1)
        )
    return version


@dataclass(frozen=True)
class MarkInput:
    points: int
    comment: str = ""


def check_score_call(
    *,
    call: Call,
    version_id: int,
    marks: dict[int, MarkInput],
    comment: str,
    scorer_id: int,
    scorer_name: str,
    now: dt.datetime | None = None,
) -> Score:
    """Score ``call`` with the current scorecard; ``marks`` maps criterion id → points and comment.

    Refused (``ValidationError``, nothing written) when the scorecard changed since the form was
    shown, a criterion is missing or unknown, or points are out of range.
    """
    if not call.recording_sid:
        raise ValidationError("Only recorded calls are scored.")
    with transaction.atomic():
        version = ScorecardVersion.objects.select_for_update().order_by("-number").first()
        if version is None:
            raise ValidationError("This company has no scorecard yet.")
        if version.pk != version_id:
            raise ValidationError("The scorecard changed while you were scoring: reload and score again.")
        criteria = list(version.criteria.order_by("position"))
        errors = []
        unknown = set(marks) - {c.pk for c in criteria}
        if unknown:
            errors.append("Some marks are for criteria that are not on the scorecard: reload the page.")
        for criterion in criteria:
            mark = marks.get(criterion.pk)
            if mark is None:
                errors.append(f"“{criterion.name}”: give a mark.")
            elif not 0 <= mark.points <= criterion.max_points:
                errors.append(f"“{criterion.name}”: between 0 and {criterion.max_points} points.")
        if errors:
            raise ValidationError(errors)
        percent = weighted_percent((c.weight, marks[c.pk].points, c.max_points) for c in criteria)
        fields: dict[str, Any] = {
            "operator_id": call.operator_id,
            "operator_name": call.operator_name,
            "scorer_id": scorer_id,
            "scorer_name": scorer_name[:150],
            "scored_at": now or timezone.now(),
            "percent": percent,
            "comment": comment,
        }
        try:
            with transaction.atomic():
                score, _ = Score.objects.update_or_create(call=call, version=version, defaults=fields)
        except IntegrityError as exc:  # two scorers submitting the first score at once
            raise ValidationError("Somebody scored this call at the same moment: reload to see it.") from exc
        score.marks.all().delete()
        Mark.objects.bulk_create(
            Mark(score=score, criterion=c, points=marks[c.pk].points, comment=marks[c.pk].comment[:500])
            for c in criteria
        )
    return score


@dataclass
class OperatorTrend:
    operator_id: int | None
    operator_name: str
    weeks: dict[dt.date, tuple[Decimal, int]]  # week's Monday → (average %, calls scored)
    average: Decimal
    count: int


def operator_weekly_scores(
    *, since: dt.date, until: dt.date, tz: dt.tzinfo
) -> tuple[list[dt.date], list[OperatorTrend]]:
    """Per operator, the weekly average score and count of the calls made in [since, until] (local days).

    Weeks start on Monday in the company's time zone and are placed by when the call was made.
    """
    start = dt.datetime.combine(since, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    rows = (
        Score.objects.filter(call__started_at__gte=start, call__started_at__lt=end)
        .annotate(week=TruncWeek("call__started_at", tzinfo=tz))
        .values("operator_id", "week")
        .annotate(name=Max("operator_name"), total=Sum("percent"), count=Count("id"))
        .order_by("operator_id", "week")
    )
    trends: dict[int | None, OperatorTrend] = {}
    totals: dict[int | None, Decimal] = {}
    for row in rows:
        trend = trends.setdefault(
            row["operator_id"], OperatorTrend(row["operator_id"], row["name"], {}, Decimal(0), 0)
        )
        trend.weeks[row["week"].date()] = (_percent(row["total"] / row["count"]), row["count"])
        trend.count += row["count"]
        totals[row["operator_id"]] = totals.get(row["operator_id"], Decimal(0)) + row["total"]
    for operator_id, trend in trends.items():
        trend.average = _percent(totals[operator_id] / trend.count)
    first_monday = since - dt.timedelta(days=since.weekday())
    weeks = []
    week = first_monday
    while week <= until:
        weeks.append(week)
        week += dt.timedelta(days=7)
    return weeks, sorted(trends.values(), key=lambda t: (t.operator_name.lower(), t.operator_id or 0))
