"""The client announced to the operator before the caller is put through (R19).

Shared operators serve many companies, so the operator first hears whose call it is ("Acme,
support"; the company's ``operator_announcement`` setting, else its name and the queue's).

How, with Twilio's conferences (the choice, and why): the caller joins the call's conference
muted (``twiml.conference_caller``) and the operator's participant is created muted
(``conferences.bridge``), so when the operator's leg joins nobody hears anybody. The operator's
participant is then given an ``AnnounceUrl`` (``announce``): Twilio plays that TwiML to that
participant only, so the caller hears nothing of it. When Twilio reports ``announcement-end``
(or ``announcement-fail``) on the conference's callback, both are unmuted (``release``) and talk.
A lost callback cannot leave them muted: ``release`` is also scheduled ``RELEASE_AFTER_SECONDS``
after the announcement is asked for, and a refused announcement releases at once. Holding the
caller instead would need the conference's SID before the operator joins (it is learnt from a
callback that may come later), and an operator joining first would change the bridge's order.
"""

from __future__ import annotations

import logging

from django.db import connection
from django.utils import timezone

from telephony import conferences, gateway, twiml
from telephony.calls.flows import voice_of
from telephony.calls.hours import in_force
from telephony.calls.models import Call, TelephonySettings
from telephony.calls.records import add_event

log = logging.getLogger(__name__)
RELEASE_AFTER_SECONDS = 15  # an announcement is a few words; past this the pair is put through anyway


def _settings_now() -> TelephonySettings:
    """The company's settings in force now (a change scheduled from a date included)."""
    return in_force(TelephonySettings.current(), timezone.now())


def announcement_text(call: Call, settings: TelephonySettings | None = None) -> str:
    """What the operator hears: the company's own text, else "<company>, <queue>"."""
    text = (settings or _settings_now()).operator_announcement.strip()
    if text:
        return text
    company = connection.tenant.name
    return f"{company}, {call.queue_name}" if call.queue_name else company


def announcement_twiml(call: Call) -> twiml.VoiceResponse:
    settings = _settings_now()
    return twiml.operator_announcement(text=announcement_text(call, settings), voice=voice_of(settings))


def announce(*, call: Call, reservation_id: int) -> bool:
    """Ask Twilio to play the announcement to the operator of this attempt (once per attempt).

    True when asked (release follows the announcement's end); False when there is nothing to
    announce or Twilio refused (the caller is released at once). Raises ``TwilioUnavailable``."""
    if conferences.has_event(call, f"announce:{reservation_id}") or call.ended_at is not None:
        return False
    sid = conferences.conference_sid(call)
    if not sid:
        return False
    url = gateway.absolute(twiml.url("twilio-operator-announcement", c=call.pk))
    answer = gateway.update_participant(
        conference_sid=sid, participant=conferences.operator_label(reservation_id),
        announce_url=url, announce_method="POST",
    )  # fmt: skip
    if answer is not gateway.Answer.DONE:
        release(call=call, reservation_id=reservation_id, reason=f"announcement {answer.value}")
        return False
    add_event(call, "announce", dedupe=f"announce:{reservation_id}", text=announcement_text(call),
              reservation=reservation_id)  # fmt: skip
    return True


def announced_attempt(call: Call) -> int | None:
    """The attempt whose announcement was asked for last (Twilio's announcement-end names no label)."""
    return (
        call.events.filter(kind="announce")
        .order_by("-pk")
        .values_list("data__reservation", flat=True)
        .first()
    )


def release(*, call: Call, reservation_id: int, reason: str) -> bool:
    """Put the caller through: unmute the caller and the operator of this attempt (once).

    Raises ``TwilioUnavailable`` (the task retries; unmuting twice is harmless)."""
    if conferences.has_event(call, f"released:{reservation_id}"):
        return False
    sid = conferences.conference_sid(call)
    if not sid:
        return False
    for participant in (call.call_sid, conferences.operator_label(reservation_id)):
        answer = gateway.update_participant(conference_sid=sid, participant=participant, muted=False)
        if answer is gateway.Answer.GONE:
            log.info("call %s: %s gone before being put through", call.call_sid, participant)
    add_event(call, "released", dedupe=f"released:{reservation_id}", reason=reason)
    return True
