"""``{% pause_timeline call %}``: where a call's recording was paused (PCI), on the file's timeline
and as a list, wherever the recording is played (the portal's call page, the quality score page)."""

from __future__ import annotations

from django import template

from telephony import recording_pauses
from telephony.calls.models import Call

register = template.Library()
WIDTH = 1000  # the SVG's viewBox width: positions are per mille of the recording


@register.inclusion_tag("quality/_pauses.html")
def pause_timeline(call: Call) -> dict[str, object]:
    pauses = recording_pauses.pause_intervals(call)
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
