"""The demo's quality content: a scorecard and a few recorded, scored calls per company, so the
quality pages have recordings to play and scores to chart from the first minute.

The recordings are the simulator's generated WAV (``telephony.simulator.audio``), stored where a
fetched recording would be; the scores are given through ``check_score_call`` as a supervisor
would give them. Idempotent: nothing is added to a company that has scores already.
"""

from __future__ import annotations

import datetime as dt
import random

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django_tenants.utils import tenant_context

from accounts.models import User
from quality.models import Criterion, Score
from quality.scoring import CriterionSpec, MarkInput, check_score_call, current_scorecard, scorecard_save
from telephony import recording_pauses
from telephony.calls.models import Call, RecordingAccess
from telephony.calls.records import add_event
from telephony.gateway import TWILIO_API
from telephony.recordings import recording_key
from telephony.simulator.audio import recording_wav
from tenants.models import Client

DEMO_SCORECARD = [
    CriterionSpec("Greeting and identification", kind=Criterion.Kind.YES_NO, weight=1),
    CriterionSpec("Understood the caller's need", max_points=5, weight=3),
    CriterionSpec("Resolved or routed correctly", max_points=5, weight=3),
    CriterionSpec("Tone and courtesy", max_points=5, weight=2),
    CriterionSpec("Summarised and closed", kind=Criterion.Kind.YES_NO, weight=1),
]
ACCOUNT = "AC" + "0" * 32
COMMENTS = [
    "Clear and friendly.",
    "Good discovery; summarise before closing.",
    "Long hold: offer a callback.",
    "",
]


def _record(call: Call, audio: bytes) -> None:
    """Give a handled call a stored recording (the generated WAV), as a fetched one would be."""
    sid = "RE" + call.call_sid[2:34].ljust(32, "0")
    key = recording_key(
        schema=connection.schema_name, call_sid=call.call_sid, recording_sid=sid, extension=".wav"
    )
    if not default_storage.exists(key):
        default_storage.save(key, ContentFile(audio, name=key))
    call.recording_sid, call.recording_key = sid, key
    call.recording_url = f"{TWILIO_API}/2010-04-01/Accounts/{ACCOUNT}/Recordings/{sid}"
    call.recording_seconds = call.talk_seconds
    call.save(update_fields=["recording_sid", "recording_key", "recording_url", "recording_seconds"])


def _card_data_pause(call: Call, *, by: str) -> None:
    """The caller paid by card on this call: its recording paused for it, as the console does (PCI),
    and the company's access log shows the supervisor who listened to it."""
    if call.answered_at is None or not call.talk_seconds or call.talk_seconds < 20:
        return
    paused = call.answered_at + dt.timedelta(seconds=call.talk_seconds // 3)
    seconds = min(25, call.talk_seconds // 3)
    add_event(call, recording_pauses.PAUSED, dedupe="demo:pause", at=paused, by="operator",
              reason="sensitive step card_number")  # fmt: skip
    add_event(call, recording_pauses.RESUMED, dedupe="demo:resume", at=paused + dt.timedelta(seconds=seconds),
              by="operator", reason="left sensitive step card_number", seconds=seconds)  # fmt: skip
    RecordingAccess.objects.create(
        call=call, call_sid=call.call_sid, recording_sid=call.recording_sid,
        at=(call.ended_at or paused) + dt.timedelta(hours=1), action=RecordingAccess.Action.PLAY,
        surface=RecordingAccess.Surface.QUALITY, platform_staff=True, name=by,
    )  # fmt: skip


def seed_scored_calls(*, client: Client, scorer: User, count: int = 6) -> int:
    """Record and score ``count`` of the company's latest handled calls; returns the scores added."""
    rng = random.Random(f"quality-{client.slug}")
    with tenant_context(client):
        if Score.objects.exists():
            return 0
        version = current_scorecard() or scorecard_save(criteria=DEMO_SCORECARD, by=scorer.username)
        criteria = list(version.criteria.order_by("position"))
        calls = Call.objects.filter(
            outcome=Call.Outcome.HANDLED, operator_id__isnull=False, ended_at__isnull=False
        )
        audio = recording_wav()
        added = 0
        for number, call in enumerate(calls.order_by("-started_at")[:count]):
            _record(call, audio)
            if number == 0:
                _card_data_pause(call, by=scorer.get_full_name() or scorer.username)
            marks = {
                c.pk: MarkInput(points=c.max_points if rng.random() < 0.8 else rng.randint(0, c.max_points))
                for c in criteria
            }
            check_score_call(
                call=call, version_id=version.pk, marks=marks, comment=rng.choice(COMMENTS),
                scorer_id=scorer.pk, scorer_name=scorer.get_full_name() or scorer.username,
                now=call.ended_at + dt.timedelta(hours=rng.randint(1, 20)),
            )  # fmt: skip
            added += 1
    return added
