"""Operators' planned shifts: added and removed by supervisors and account managers, audited."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction

from operations.models import Shift
from telephony.models import OperatorProfile
from tenants.audit import record_event

LONGEST_SHIFT = dt.timedelta(hours=16)


def _view(shift: Shift) -> dict[str, object]:
    return {
        "starts_at": shift.starts_at.isoformat(),
        "ends_at": shift.ends_at.isoformat(),
        "break_minutes": shift.break_minutes,
        "note": shift.note,
    }


def shift_add(
    *,
    operator: OperatorProfile,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    break_minutes: int = 0,
    note: str = "",
    by: object,
) -> Shift:
    """Plan a shift; it must end after it starts, last at most 16 h and not overlap another."""
    if ends_at <= starts_at:
        raise ValidationError("A shift must end after it starts.")
    if ends_at - starts_at > LONGEST_SHIFT:
        raise ValidationError("A shift lasts at most 16 hours.")
    if dt.timedelta(minutes=break_minutes) >= ends_at - starts_at:
        raise ValidationError("The breaks must be shorter than the shift.")
    with transaction.atomic():
        OperatorProfile.objects.select_for_update().filter(pk=operator.pk).values_list("pk").first()
        if Shift.objects.filter(operator=operator, starts_at__lt=ends_at, ends_at__gt=starts_at).exists():
            raise ValidationError("This shift overlaps another of the operator's shifts.")
        shift = Shift.objects.create(
            operator=operator, starts_at=starts_at, ends_at=ends_at, break_minutes=break_minutes, note=note
        )
        record_event(actor=by, action="shift.added", obj=operator, after=_view(shift))
    return shift


def shift_remove(*, shift: Shift, by: object) -> None:
    with transaction.atomic():
        record_event(actor=by, action="shift.removed", obj=shift.operator, before=_view(shift))
        shift.delete()
