"""Calling windows, retries, do-not-call and campaign control through the domain functions."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
from django.db import transaction
from django_tenants.utils import tenant_context

from config import calling_hours
from outbound.control import CampaignError, campaign_control
from outbound.models import Attempt, Campaign, CampaignContact, DoNotCall
from outbound.rules import (
    NotDialable,
    blocked_numbers,
    callback_window,
    due_contacts,
    is_dialable_now,
    next_due,
    opt_out,
    record_attempt_result,
    start_attempt,
)
from outbound.windows import Window, in_window, next_opening
from telephony.models import PlatformDoNotCall
from tests.outbound.kit import add_contact, make_campaign

UTC = dt.UTC
pytestmark = pytest.mark.django_db


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def due_phones(campaign: Campaign, now: dt.datetime, limit: int = 50) -> list[str]:
    with transaction.atomic():
        return [c.phone for c in due_contacts(campaign=campaign, now=now, limit=limit)]


@pytest.fixture
def alpha(tenants):
    with tenant_context(tenants.alpha):
        yield tenants.alpha


def running(campaign: Campaign) -> Campaign:
    return campaign_control(campaign=campaign, action="start", now=utc(2026, 11, 2, 0))


# Windows ------------------------------------------------------------------------------------------


def test_same_instant_is_inside_tokyo_window_and_outside_new_york_window(alpha):
    campaign = make_campaign(
        alpha, window_start=dt.time(9), window_end=dt.time(20), window_days=[0, 1, 2, 3, 4]
    )
    tokyo = add_contact(campaign, "+81312345678", tz="Asia/Tokyo")
    new_york = add_contact(campaign, "+12125550100", tz="America/New_York")
    running(campaign)
    # Tuesday 2026-11-03 01:00 UTC = Tue 10:00 in Tokyo, Mon 20:00 in New York (closed at 20:00).
    now = utc(2026, 11, 3, 1)
    assert due_phones(campaign, now) == [tokyo.phone]
    assert is_dialable_now(tokyo, campaign, now) is True
    assert is_dialable_now(new_york, campaign, now) is False
    # 14:00 UTC: Tokyo 23:00 (closed), New York 09:00 (open).
    later = utc(2026, 11, 3, 14)
    assert due_phones(campaign, later) == [new_york.phone]


def test_weekend_and_schedule_keep_contacts_out(alpha):
    campaign = make_campaign(
        alpha,
        window_start=dt.time(9),
        window_end=dt.time(17),
        window_days=[0, 1, 2, 3, 4],
        starts_on=dt.date(2026, 11, 4),
        ends_on=dt.date(2026, 11, 6),
    )
    add_contact(campaign, "+442071234567", tz="Europe/London")
    running(campaign)
    assert due_phones(campaign, utc(2026, 11, 3, 10)) == []  # before the first day
    assert due_phones(campaign, utc(2026, 11, 4, 10)) == ["+442071234567"]
    assert due_phones(campaign, utc(2026, 11, 7, 10)) == []  # Saturday, and past the last day anyway
    assert due_phones(campaign, utc(2026, 11, 4, 8, 59)) == []
    assert due_phones(campaign, utc(2026, 11, 4, 17)) == []  # the end is exclusive


def test_dst_day_opens_at_local_nine_both_sides_of_the_change():
    window = Window(start=dt.time(9), end=dt.time(20), days=frozenset(range(7)))
    # New York leaves DST on Sunday 2026-11-01 at 02:00 local: 09:00 EDT before, 09:00 EST after.
    saturday = next_opening(window, "America/New_York", utc(2026, 10, 31, 5))
    sunday = next_opening(window, "America/New_York", utc(2026, 11, 1, 5))
    assert saturday == utc(2026, 10, 31, 13)
    assert sunday == utc(2026, 11, 1, 14)
    assert not in_window(window, "America/New_York", utc(2026, 11, 1, 13, 30))  # 08:30 EST
    assert in_window(window, "America/New_York", utc(2026, 11, 1, 14))
    # Spring forward (2026-03-08): the window still opens at local 09:00 EDT = 13:00 UTC.
    assert next_opening(window, "America/New_York", utc(2026, 3, 8, 6)) == utc(2026, 3, 8, 13)


@pytest.mark.parametrize(
    ("tz", "start"),
    [
        ("America/New_York", utc(2026, 10, 31, 0)),  # leaves DST on 1 November
        ("Australia/Lord_Howe", utc(2026, 10, 3, 0)),  # half-hour DST shift on 4 October
        ("Asia/Kolkata", utc(2026, 11, 6, 0)),  # +05:30, a weekend next
    ],
)
def test_sql_window_agrees_with_python_across_clock_changes(alpha, tz, start):
    campaign = make_campaign(
        alpha, window_start=dt.time(9), window_end=dt.time(20), window_days=[0, 1, 2, 3, 4]
    )
    contact = add_contact(campaign, "+12125550111", tz=tz)
    running(campaign)
    seen = set()
    for quarter in range(0, 4 * 72, 5):
        now = start + dt.timedelta(minutes=15 * quarter)
        dialable = is_dialable_now(contact, campaign, now)
        assert (due_phones(campaign, now) == [contact.phone]) == dialable, now
        seen.add(dialable)
    assert seen == {True, False}


# Retries and maximum attempts --------------------------------------------------------------------


def dial(contact: CampaignContact, now: dt.datetime, outcome: str) -> CampaignContact:
    attempt = start_attempt(campaign_contact=contact, now=now)
    record_attempt_result(attempt=attempt, outcome=outcome, now=now + dt.timedelta(seconds=30))
    contact.refresh_from_db()
    return contact


def test_retry_delay_per_outcome_and_never_past_max_attempts(alpha):
    campaign = make_campaign(
        alpha, max_attempts=3, retry_busy_minutes=10, retry_no_answer_minutes=60, retry_machine_minutes=None
    )
    contact = add_contact(campaign, "+15555550101")
    running(campaign)
    t = utc(2026, 11, 3, 12)
    contact = dial(contact, t, "busy")
    assert (contact.state, contact.attempts) == ("pending", 1)
    assert contact.next_due_at == t + dt.timedelta(seconds=30, minutes=10)
    assert due_phones(campaign, t + dt.timedelta(minutes=5)) == []
    with pytest.raises(NotDialable, match="not due"):
        start_attempt(campaign_contact=contact, now=t + dt.timedelta(minutes=5))
    t2 = contact.next_due_at
    contact = dial(contact, t2, "no-answer")
    assert contact.next_due_at == t2 + dt.timedelta(seconds=30, minutes=60)
    contact = dial(contact, contact.next_due_at, "busy")
    assert (contact.state, contact.attempts) == ("exhausted", 3)
    assert due_phones(campaign, t + dt.timedelta(days=5)) == []
    with pytest.raises(NotDialable):
        start_attempt(campaign_contact=contact, now=t + dt.timedelta(days=5))
    assert Attempt.objects.filter(campaign_contact=contact).count() == 3
    campaign.refresh_from_db()
    assert campaign.state == "completed"


def test_outcome_without_retry_rule_fails_the_contact_and_answered_is_done(alpha):
    campaign = make_campaign(alpha, retry_machine_minutes=None)
    machine = add_contact(campaign, "+15555550102")
    person = add_contact(campaign, "+15555550103")
    running(campaign)
    t = utc(2026, 11, 3, 12)
    assert dial(machine, t, "machine").state == "failed"
    assert dial(person, t, "answered").state == "done"
    assert next_due(campaign, person, "answered", t) is None


def test_retry_lands_in_the_next_window_opening(alpha):
    campaign = make_campaign(
        alpha,
        window_start=dt.time(9),
        window_end=dt.time(18),
        window_days=[0, 1, 2, 3, 4],
        retry_busy_minutes=30,
    )
    contact = add_contact(campaign, "+81312345679", tz="Asia/Tokyo")
    running(campaign)
    friday_late = utc(2026, 11, 6, 8, 45)  # Friday 17:45 in Tokyo; +30 min is after closing
    contact = dial(contact, friday_late, "busy")
    assert contact.next_due_at == utc(2026, 11, 9, 0)  # Monday 09:00 Tokyo


def test_repeated_status_callback_changes_nothing_and_canceled_gives_the_attempt_back(alpha):
    campaign = make_campaign(alpha)
    contact = add_contact(campaign, "+15555550104")
    running(campaign)
    t = utc(2026, 11, 3, 12)
    attempt = start_attempt(campaign_contact=contact, now=t)
    record_attempt_result(attempt=attempt, outcome="canceled", now=t)
    record_attempt_result(attempt=attempt, outcome="answered", now=t)
    contact.refresh_from_db()
    assert (contact.state, contact.attempts, contact.last_outcome) == ("pending", 0, "canceled")
    assert Attempt.objects.get(pk=attempt.pk).outcome == "canceled"


def test_only_one_open_attempt_per_contact(alpha):
    campaign = make_campaign(alpha)
    contact = add_contact(campaign, "+15555550105")
    running(campaign)
    start_attempt(campaign_contact=contact, now=utc(2026, 11, 3, 12))
    with pytest.raises(NotDialable, match="being called"):
        start_attempt(campaign_contact=contact, now=utc(2026, 11, 3, 12))


# Do-not-call -------------------------------------------------------------------------------------


def test_numbers_on_either_list_are_never_due_even_when_added_while_running(alpha):
    campaign = make_campaign(alpha)
    own = add_contact(campaign, "+15555550201")
    platform = add_contact(campaign, "+15555550202")
    free = add_contact(campaign, "+15555550203")
    running(campaign)
    t = utc(2026, 11, 3, 12)
    assert set(due_phones(campaign, t)) == {own.phone, platform.phone, free.phone}
    DoNotCall.objects.create(phone=own.phone)
    PlatformDoNotCall.objects.create(phone=platform.phone)
    assert due_phones(campaign, t) == [free.phone]
    assert blocked_numbers([own.phone, platform.phone, free.phone]) == {own.phone, platform.phone}
    for contact in (own, platform):
        assert not is_dialable_now(contact, campaign, t)
        with pytest.raises(NotDialable, match="do-not-call"):
            start_attempt(campaign_contact=contact, now=t)
        contact.refresh_from_db()
        assert contact.state == "dnc"


def test_opt_out_during_a_call_is_kept_and_reaches_every_campaign(alpha):
    first = make_campaign(alpha)
    second = make_campaign(alpha)
    contact = add_contact(first, "+15555550301")
    other = add_contact(second, "+15555550301")
    running(first)
    t = utc(2026, 11, 3, 12)
    attempt = start_attempt(campaign_contact=contact, now=t)
    opt_out(phone=contact.phone, by_name="console")
    record_attempt_result(attempt=attempt, outcome="answered", now=t)
    contact.refresh_from_db()
    other.refresh_from_db()
    assert contact.state == other.state == "opted_out"
    assert DoNotCall.objects.get(phone=contact.phone).source == "opt_out"
    with pytest.raises(ValueError, match=r"E\.164"):
        opt_out(phone="0301 555")


# Control -----------------------------------------------------------------------------------------


def test_pause_stops_new_dials_at_once_and_the_call_in_flight_is_still_recorded(alpha):
    campaign = make_campaign(alpha)
    ringing = add_contact(campaign, "+15555550401")
    waiting = add_contact(campaign, "+15555550402")
    running(campaign)
    t = utc(2026, 11, 3, 12)
    attempt = start_attempt(campaign_contact=ringing, now=t)
    stale = Campaign.objects.get(pk=campaign.pk)
    campaign_control(campaign=campaign, action="pause", now=t)
    assert due_phones(campaign, t) == []
    assert due_phones(stale, t) == []  # a dialer holding the running campaign gets nothing either
    with pytest.raises(NotDialable, match="paused"):
        start_attempt(campaign_contact=waiting, now=t)
    record_attempt_result(attempt=attempt, outcome="answered", now=t)
    ringing.refresh_from_db()
    assert ringing.state == "done"
    campaign_control(campaign=campaign, action="resume", now=t)
    assert due_phones(campaign, t) == [waiting.phone]


@pytest.mark.parametrize(
    ("state", "action", "message"),
    [
        ("draft", "pause", "A draft campaign cannot be paused."),
        ("draft", "resume", "A draft campaign cannot be resumed."),
        ("running", "start", "A running campaign cannot be started."),
        ("stopped", "resume", "A stopped campaign cannot be resumed."),
        ("completed", "stop", "A completed campaign cannot be stopped."),
        ("draft", "explode", "Unknown action"),
    ],
)
def test_invalid_transition_is_refused_with_a_message(alpha, state, action, message):
    campaign = make_campaign(alpha, state=state)
    with pytest.raises(CampaignError, match=message):
        campaign_control(campaign=campaign, action=action, now=utc(2026, 11, 3))
    campaign.refresh_from_db()
    assert campaign.state == state


def test_a_campaign_without_contacts_or_active_script_does_not_start(alpha):
    campaign = make_campaign(alpha)
    with pytest.raises(CampaignError, match="no contact"):
        campaign_control(campaign=campaign, action="start", now=utc(2026, 11, 3))
    add_contact(campaign, "+15555550501")
    campaign.script.versions.update(state="retired")
    with pytest.raises(CampaignError, match="no active version"):
        campaign_control(campaign=campaign, action="start", now=utc(2026, 11, 3))


@pytest.mark.parametrize("hours", ["8h-21h", "08:00", "08:00-12:00-21:00", "21:00-08:00", "09:00-09:00"])
def test_malformed_or_overnight_callback_calling_hours_stop_the_start_with_a_clear_message(hours):
    """Checked once when the settings load, not at dial time (where it would stop every company's
    dial pass); an overnight window is refused, not silently never open."""
    with pytest.raises(ValueError, match="CALLBACK_CALLING_HOURS"):
        calling_hours.parse(hours)
    started = subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        env={**os.environ, "DJANGO_ENV": "test", "CALLBACK_CALLING_HOURS": hours},
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode != 0
    assert "ImproperlyConfigured: CALLBACK_CALLING_HOURS" in started.stderr


def test_well_formed_callback_calling_hours_are_a_daily_window(settings):
    assert calling_hours.parse(" 08:00 - 21:30 ") == (dt.time(8), dt.time(21, 30))
    assert calling_hours.parse("") is None
    settings.CALLBACK_CALLING_HOURS = "08:00-21:00"
    assert callback_window() == Window(start=dt.time(8), end=dt.time(21), days=frozenset(range(7)))
