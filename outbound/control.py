"""Campaign control: start, pause, resume, stop (the state machine), with a clear refusal.

Pausing or stopping stops new dials at once (``due_contacts`` and ``start_attempt`` read the
state); attempts already ringing finish and are recorded by ``record_attempt_result``.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction

from outbound.models import Campaign, CampaignContact
from outbound.rules import complete_if_finished, sweep_blocked
from outbound.work import mark_work_on_commit
from scripts_engine.models import ScriptVersion
from telephony.models import PhoneNumber

State = Campaign.State

TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "start": (frozenset({State.DRAFT}), State.RUNNING),
    "pause": (frozenset({State.RUNNING}), State.PAUSED),
    "resume": (frozenset({State.PAUSED}), State.RUNNING),
    "stop": (frozenset({State.DRAFT, State.RUNNING, State.PAUSED}), State.STOPPED),
}


class CampaignError(Exception):
    """The campaign cannot do this now; the message is for the user."""


def allowed_actions(campaign: Campaign) -> list[str]:
    """The control actions the campaign's state allows (for the buttons)."""
    return [action for action, (sources, _target) in TRANSITIONS.items() if campaign.state in sources]


def campaign_control(*, campaign: Campaign, action: str, now: dt.datetime) -> Campaign:
    """Apply ``action`` (start, pause, resume, stop) or raise ``CampaignError`` saying why not."""
    if action not in TRANSITIONS:
        raise CampaignError(f"Unknown action “{action}”.")
    sources, target = TRANSITIONS[action]
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.state not in sources:
            raise CampaignError(f"A {locked.get_state_display().lower()} campaign cannot be {_past(action)}.")
        if action == "start":
            _check_ready(locked)
        if action in ("start", "resume"):
            _check_caller_id(locked)
        locked.state = target
        locked.pause_reason = ""
        stamp = {"start": "started_at", "pause": "paused_at", "stop": "stopped_at"}.get(action)
        fields = ["state", "pause_reason", "updated_at"]
        if stamp:
            setattr(locked, stamp, now)
            fields.append(stamp)
        locked.save(update_fields=fields)
        if target == State.RUNNING:
            sweep_blocked(campaign=locked)
        if action == "resume":  # everything may have been called while it was paused
            complete_if_finished(campaign=locked, now=now)
        if locked.state == State.RUNNING:
            mark_work_on_commit(queue_id=locked.queue_id)  # the dialer's index (issue 23)
    for name in (
        "state",
        "pause_reason",
        "started_at",
        "paused_at",
        "stopped_at",
        "completed_at",
        "updated_at",
    ):
        setattr(campaign, name, getattr(locked, name))
    return campaign


def _past(action: str) -> str:
    return {"start": "started", "pause": "paused", "resume": "resumed", "stop": "stopped"}[action]


def _check_ready(campaign: Campaign) -> None:
    if not campaign.script.versions.filter(state=ScriptVersion.State.ACTIVE).exists():
        raise CampaignError(f"The script “{campaign.script.name}” has no active version yet.")
    if not CampaignContact.objects.filter(campaign=campaign, state=CampaignContact.State.PENDING).exists():
        raise CampaignError("The campaign has no contact left to call: import a list first.")
    if not campaign.window_days:
        raise CampaignError("Choose at least one calling day.")


def _check_caller_id(campaign: Campaign) -> None:
    """The caller ID must still be one of the company's numbers (a number may move or be released)."""
    if not PhoneNumber.objects.filter(
        number=campaign.caller_id, tenant_id=connection.tenant.pk, state=PhoneNumber.State.ASSIGNED
    ).exists():
        raise CampaignError(
            f"The caller ID {campaign.caller_id} is no longer one of your numbers: choose another."
        )
