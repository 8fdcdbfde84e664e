"""``{% pause_timeline call %}``: where a call's recording was paused (PCI), on the file's timeline
and as a list, wherever the recording is played (the portal's call page, the quality score page)."""

from __future__ import annotations

import dataclasses

from django import template

from telephony import recording_pauses
from telephony.calls.models import Call

register = template.Library()
WIDTH = 1000  # the SVG's viewBox width: positions are per mille of the recording


@register.inclusion_tag("quality/_pauses.html")
def pause_timeline(call: Call, shown_as: str | None = None) -> dict[str, object]:
    """``shown_as``: the name the client company sees for the platform's staff (its portal shows
    "Jane D." for the call's operator, as everywhere else in it); None on the platform's pages."""
    pauses = recording_pauses.pause_intervals(call)
    if shown_as is not None:
        shown = shown_as or "Operator"
        pauses = [
            dataclasses.replace(
                p,
                by=shown if p.by else "",
                ended_by=f"resumed by {shown}" if p.resumed_by else p.ended_by,
                resumed_by=shown if p.resumed_by else "",
            )
            for p in pauses
        ]
    length = float(call.recording_seconds or 0) or max((p.offset_seconds for p in pauses), default=0.0) or 1.0
    marks = [
        {
            "pause": p,
            "x": round(min(1.0, p.offset_seconds / length) * WIDTH, 1),
            "at": _clock(p.offset_seconds),
        }
        for p in pauses
    ]
    return {"marks": marks, "width": WIDTH}


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"
