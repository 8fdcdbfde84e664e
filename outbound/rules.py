"""Who may be dialed when, and what an attempt's outcome does to its contact.

The dialer (outbound/dialer.py) relies on these, all in the tenant's schema:

- ``due_contacts(campaign=, now=, limit=)``: the next contacts to dial, locked (SKIP LOCKED) —
  evaluate it inside ``transaction.atomic()``; do-not-call numbers on either list are left out.
- ``campaigns_with_contacts_due(campaigns, now)``: which campaigns have a contact due, in one
  query that locks nothing (the dialer's look before it claims).
- ``start_attempt(campaign_contact=, now=, operator_id=, operator_name=)`` → ``Attempt``: checks
  again under lock (window, schedule, DNC, attempts, campaign running) and raises ``NotDialable``.
- ``attach_call(attempt=, call=)``: link the Call record once it exists.
- ``record_attempt_result(attempt=, outcome=, now=)``: idempotent; moves the contact on.
- ``opt_out(phone=, source=, by_name=)``: the contact asked never to be called again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, F, Q, QuerySet
from django.db.models.expressions import RawSQL

from config import calling_hours
from outbound.models import Attempt, Campaign, CampaignContact, DoNotCall
from outbound.windows import Window, in_window, next_opening
from telephony.calls.models import Call, TelephonySettings
from telephony.events import DialRefusal
from telephony.models import PlatformDoNotCall
from tenants.phones import is_e164

RETRYABLE = frozenset(
    {Attempt.Outcome.BUSY, Attempt.Outcome.NO_ANSWER, Attempt.Outcome.MACHINE, Attempt.Outcome.FAILED}
)
OPEN_STATES = (CampaignContact.State.PENDING, CampaignContact.State.IN_PROGRESS)


class NotDialable(Exception):
    """This contact may not be dialed now; the message says why."""


CHUNK = 5000  # PostgreSQL takes at most 65,535 parameters in one statement


def chunks(items: list[str], size: int | None = None) -> Iterator[list[str]]:
    """``items`` in slices of ``size`` (default ``CHUNK``), for ``__in`` lookups."""
    size = size or CHUNK
    for start in range(0, len(items), size):
        yield items[start : start + size]


def blocked_numbers(phones: Iterable[str]) -> set[str]:
    """The numbers among ``phones`` on the company's or the platform's do-not-call list (one query
    per list for up to 5,000 numbers)."""
    found: set[str] = set()
    for part in chunks(sorted(set(phones))):
        found.update(DoNotCall.objects.filter(phone__in=part).values_list("phone", flat=True))
        found.update(PlatformDoNotCall.objects.filter(phone__in=part).values_list("phone", flat=True))
    return found


def callback_window() -> Window | None:
    """``settings.CALLBACK_CALLING_HOURS`` as a window open every day (None: no limit)."""
    hours = calling_hours.parse(settings.CALLBACK_CALLING_HOURS)  # checked when the settings load
    if hours is None:
        return None
    return Window(start=hours[0], end=hours[1], days=frozenset(range(7)))


@dataclass(frozen=True)
class CallbackRule:
    """The one rule of every callback, read once for the callbacks at hand (``callback_rule``).
    Asking was consent: a do-not-call entry from before the request does not stop it, one added
    after does, for good. Outside the calling hours (``callback_window``, the company's time zone)
    it waits for their next opening."""

    listed_at: dict[str, dt.datetime]  # phone → its newest entry on either do-not-call list
    window: Window | None
    timezone: str

    def refusal(self, *, phone: str, asked_at: dt.datetime, now: dt.datetime) -> DialRefusal | None:
        """Why the person who asked at ``asked_at`` may not be called back now, or None."""
        listed = self.listed_at.get(phone)
        if listed is not None and listed > asked_at:
            return DialRefusal("on a do-not-call list since the callback was asked for")
        if self.window is None or in_window(self.window, self.timezone, now):
            return None
        return DialRefusal(
            "outside the calling hours", retry_at=next_opening(self.window, self.timezone, now)
        )


def callback_rule(phones: Iterable[str]) -> CallbackRule:
    """The callback rule for these numbers: their do-not-call entries (one query per list for up
    to 5,000 numbers), the calling hours and the company's time zone, read once."""
    listed_at: dict[str, dt.datetime] = {}
    for part in chunks(sorted(set(phones))):
        for entries in (DoNotCall.objects, PlatformDoNotCall.objects):
            for phone, at in entries.filter(phone__in=part).values_list("phone", "at"):
                listed_at[phone] = max(at, listed_at.get(phone, at))
    timezone = TelephonySettings.current().timezone or "UTC"
    return CallbackRule(listed_at=listed_at, window=callback_window(), timezone=timezone)


def callback_refusal(
    sender: object = None, *, phone: str, asked_at: dt.datetime, now: dt.datetime, **kwargs: object
) -> DialRefusal | None:
    """Whether a person who asked to be called back (keeping their place) may be called now
    (``telephony.events.callback_dial_check``), by ``CallbackRule``."""
    return callback_rule([phone]).refusal(phone=phone, asked_at=asked_at, now=now)


def is_dialable_now(
    contact: CampaignContact, campaign: Campaign, now: dt.datetime, *, blocked: set[str] | None = None
) -> bool:
    """Whether ``contact`` may be dialed at ``now``: campaign running, pending, due, attempts left,
    inside its local window and schedule, and on no do-not-call list (``blocked`` saves the query)."""
    return dial_refusal(contact, campaign, now, blocked=blocked) is None


def dial_refusal(
    contact: CampaignContact, campaign: Campaign, now: dt.datetime, *, blocked: set[str] | None = None
) -> str | None:
    """Why ``contact`` may not be dialed now, or None when it may."""
    if not campaign.dials:
        return f"The campaign is {campaign.get_state_display().lower()}."
    if contact.state != CampaignContact.State.PENDING:
        return f"This contact is {contact.get_state_display().lower()}."
    if contact.attempts >= campaign.max_attempts:
        return "This contact has had all its attempts."
    if contact.next_due_at is not None and contact.next_due_at > now:
        return "This contact is not due yet."
    if not in_window(Window.of(campaign), contact.timezone, now):
        return "It is outside the contact's calling hours."
    if blocked is None:
        blocked = blocked_numbers([contact.phone])
    if contact.phone in blocked:
        return "This number is on a do-not-call list."
    return None


def next_due(
    campaign: Campaign, contact: CampaignContact, outcome: str, now: dt.datetime
) -> dt.datetime | None:
    """When to try again after ``outcome`` (already counted in ``contact.attempts``), moved into the
    next opening of the contact's window; None when there is no retry or no attempt left."""
    if outcome == Attempt.Outcome.CANCELED:
        return next_opening(Window.of(campaign), contact.timezone, now)
    if outcome not in RETRYABLE or contact.attempts >= campaign.max_attempts:
        return None
    minutes = campaign.retry_minutes(outcome)
    if minutes is None:
        return None
    return next_opening(Window.of(campaign), contact.timezone, now + dt.timedelta(minutes=minutes))


def _window_sql(campaign: Campaign, now: dt.datetime) -> RawSQL:
    """The contact's local time (its own zone, by PostgreSQL) inside the campaign's window."""
    local = '(%s::timestamptz AT TIME ZONE "outbound_campaigncontact"."timezone")'
    parts = [
        f"({local})::time >= %s",
        f"({local})::time < %s",
        f"(EXTRACT(ISODOW FROM {local})::int - 1) = ANY(%s)",
    ]
    params: list = [
        now,
        campaign.window_start,
        now,
        campaign.window_end,
        now,
        [int(d) for d in campaign.window_days],
    ]
    if campaign.starts_on:
        parts.append(f"({local})::date >= %s")
        params += [now, campaign.starts_on]
    if campaign.ends_on:
        parts.append(f"({local})::date <= %s")
        params += [now, campaign.ends_on]
    return RawSQL(" AND ".join(parts), params, output_field=BooleanField())  # noqa: S611 - values are parameters


def _due(campaign: Campaign, now: dt.datetime) -> QuerySet[CampaignContact]:
    """The campaign's contacts that may be dialed now (unordered, unlocked): pending, attempts left,
    due, inside their window, on no do-not-call list; the campaign running at this moment."""
    return (
        CampaignContact.objects.filter(
            campaign=campaign, state=CampaignContact.State.PENDING, attempts__lt=campaign.max_attempts
        )
        .filter(campaign__state=Campaign.State.RUNNING)  # the state now, even if ``campaign`` is stale
        .filter(Q(next_due_at__isnull=True) | Q(next_due_at__lte=now))
        .filter(_window_sql(campaign, now))
        .exclude(phone__in=DoNotCall.objects.values("phone"))
        .exclude(phone__in=PlatformDoNotCall.objects.values("phone"))
    )


def _may_have_due(campaign: Campaign) -> bool:
    return campaign.dials and bool(campaign.window_days)


def due_contacts(*, campaign: Campaign, now: dt.datetime, limit: int = 10) -> QuerySet[CampaignContact]:
    """Contacts to dial now, highest priority then earliest due, locked with SKIP LOCKED.

    Evaluate inside ``transaction.atomic()``. Do-not-call numbers of both lists are left out at this
    moment (so a number added while the campaign runs is never dialed); nothing when not running.
    """
    if not _may_have_due(campaign):
        return CampaignContact.objects.none()
    return (
        _due(campaign, now)
        .order_by("-priority", F("next_due_at").asc(nulls_first=True), "pk")
        .select_for_update(skip_locked=True, of=("self",))[:limit]
    )


def campaigns_with_contacts_due(campaigns: Iterable[Campaign], now: dt.datetime) -> set[int]:
    """The ids of those ``campaigns`` with a contact to dial now (as ``due_contacts`` finds them), in
    one query that locks nothing: it only looks; ``due_contacts`` takes a contact under lock."""
    looks = [_due(c, now).values_list("campaign_id", flat=True)[:1] for c in campaigns if _may_have_due(c)]
    if not looks:
        return set()
    first, *others = looks  # each part stops at its first contact due
    return set(first.union(*others, all=True) if others else first)


def start_attempt(
    *,
    campaign_contact: CampaignContact,
    now: dt.datetime,
    operator_id: int | None = None,
    operator_name: str = "",
) -> Attempt:
    """Open an attempt (counts against the maximum) after checking again under lock.

    Raises ``NotDialable``; a number found on a do-not-call list marks the contact ``dnc``.
    """
    with transaction.atomic():
        contact = CampaignContact.objects.select_for_update().get(pk=campaign_contact.pk)
        campaign = Campaign.objects.get(pk=contact.campaign_id)
        blocked = blocked_numbers([contact.phone])
        refusal = dial_refusal(contact, campaign, now, blocked=blocked)
        if refusal is None:
            contact.attempts += 1
            contact.state = CampaignContact.State.IN_PROGRESS
            contact.last_attempt_at = now
            contact.save(update_fields=["attempts", "state", "last_attempt_at"])
            attempt = Attempt.objects.create(
                campaign_contact=contact,
                campaign=campaign,
                started_at=now,
                operator_id=operator_id,
                operator_name=operator_name[:150],
            )
        elif contact.phone in blocked and contact.state == CampaignContact.State.PENDING:
            contact.state = CampaignContact.State.DNC
            contact.save(update_fields=["state"])
    campaign_contact.refresh_from_db()
    if refusal is not None:
        raise NotDialable(refusal)
    return attempt


def attach_call(*, attempt: Attempt, call: Call) -> None:
    """Link the outbound Call record to its attempt."""
    Attempt.objects.filter(pk=attempt.pk).update(call=call)
    attempt.call = call


def record_attempt_result(*, attempt: Attempt, outcome: str, now: dt.datetime) -> Attempt:
    """Close the attempt and move its contact on: reached, retry later, or no more tries.

    Safe to call twice (a repeated status callback changes nothing). A canceled attempt gives the
    attempt back. A contact that opted out or was put on a do-not-call list during the call stays so.
    """
    if outcome not in Attempt.Outcome.values:
        raise ValueError(f"unknown attempt outcome {outcome!r}")
    with transaction.atomic():
        locked = Attempt.objects.select_for_update().get(pk=attempt.pk)
        if locked.outcome:
            return locked
        # The campaign row first (as campaign control locks it before its contacts): settlements of
        # one campaign take turns, so the last two at once cannot both see the other's contact
        # still in progress and leave the campaign running with nothing to call.
        campaign = Campaign.objects.select_for_update().get(pk=locked.campaign_id)
        contact = CampaignContact.objects.select_for_update().get(pk=locked.campaign_contact_id)
        locked.outcome = outcome
        locked.ended_at = now
        locked.save(update_fields=["outcome", "ended_at"])
        contact.last_outcome = outcome
        if contact.state == CampaignContact.State.IN_PROGRESS:
            _move_on(campaign, contact, outcome, now)
        contact.save(update_fields=["last_outcome", "state", "attempts", "next_due_at"])
        complete_if_finished(campaign=campaign, now=now)
    attempt.outcome, attempt.ended_at = locked.outcome, locked.ended_at
    return locked


def _move_on(campaign: Campaign, contact: CampaignContact, outcome: str, now: dt.datetime) -> None:
    State = CampaignContact.State
    if outcome == Attempt.Outcome.ANSWERED:
        contact.state = State.DONE
        return
    if outcome == Attempt.Outcome.CANCELED:
        contact.attempts = max(contact.attempts - 1, 0)
    due = next_due(campaign, contact, outcome, now)
    if due is not None:
        contact.state, contact.next_due_at = State.PENDING, due
    elif contact.attempts >= campaign.max_attempts:
        contact.state = State.EXHAUSTED
    else:
        contact.state = State.FAILED


def complete_if_finished(*, campaign: Campaign, now: dt.datetime) -> bool:
    """Mark a running campaign completed when no contact is left to call (DNC ones are swept first).

    Call it with the campaign's row locked (``select_for_update``) in the transaction that moved a
    contact on, so two settling at once cannot both miss the end."""
    if campaign.state != Campaign.State.RUNNING:
        return False
    sweep_blocked(campaign=campaign)
    if CampaignContact.objects.filter(campaign=campaign, state__in=OPEN_STATES).exists():
        return False
    updated = Campaign.objects.filter(pk=campaign.pk, state=Campaign.State.RUNNING).update(
        state=Campaign.State.COMPLETED, completed_at=now
    )
    if updated:
        campaign.state, campaign.completed_at = Campaign.State.COMPLETED, now
    return bool(updated)


def sweep_blocked(*, campaign: Campaign) -> int:
    """Mark the campaign's pending contacts whose number is on either list as ``dnc``."""
    return (
        CampaignContact.objects.filter(campaign=campaign, state=CampaignContact.State.PENDING)
        .filter(
            Q(phone__in=DoNotCall.objects.values("phone"))
            | Q(phone__in=PlatformDoNotCall.objects.values("phone"))
        )
        .update(state=CampaignContact.State.DNC)
    )


def opt_out(
    *, phone: str, source: str = DoNotCall.Source.OPT_OUT, by_name: str = "", reason: str = ""
) -> DoNotCall:
    """The person at ``phone`` asked never to be called again: the company's DNC list, and every
    campaign entry of that number marked ``opted_out``. ``phone`` must be E.164."""
    if not is_e164(phone):
        raise ValueError("A number in E.164 form is needed, e.g. +15550100.")
    with transaction.atomic():
        entry, _ = DoNotCall.objects.get_or_create(
            phone=phone,
            defaults={
                "source": source,
                "added_by_name": by_name[:150],
                "reason": reason[:200] or "Opted out",
            },
        )
        CampaignContact.objects.filter(phone=phone).update(state=CampaignContact.State.OPTED_OUT)
    return entry
