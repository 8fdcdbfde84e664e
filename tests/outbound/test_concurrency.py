"""Two dialers asking for due contacts at the same moment never get the same contact (SKIP LOCKED)."""

from __future__ import annotations

import random
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from outbound.control import campaign_control
from outbound.models import CampaignContact
from outbound.rules import due_contacts, record_attempt_result, start_attempt
from telephony.calls.models import Contact
from tests.outbound.kit import add_contact, make_campaign


def test_two_dialers_never_get_the_same_contact(committed, tenants):
    phones = [f"+1555{random.randrange(10**6, 10**7)}" for _ in range(10)]
    with tenant_context(tenants.alpha):
        campaign = make_campaign(tenants.alpha)
        for n, phone in enumerate(phones):
            add_contact(campaign, phone, priority=n % 3)
        campaign_control(campaign=campaign, action="start", now=timezone.now())
    barrier = threading.Barrier(2, timeout=20)
    got: list[list[int]] = []
    errors: list[BaseException] = []

    def dialer() -> None:
        try:
            with tenant_context(tenants.alpha), transaction.atomic():
                mine = [c.pk for c in due_contacts(campaign=campaign, now=timezone.now(), limit=6)]
                barrier.wait()  # both hold their locks now
                got.append(mine)
                barrier.wait()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=dialer) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors, errors
        first, second = got
        assert not set(first) & set(second)
        assert sorted(len(g) for g in got) == [4, 6]
        with tenant_context(tenants.alpha):
            assert set(first) | set(second) == set(
                CampaignContact.objects.filter(campaign=campaign).values_list("pk", flat=True)
            )
    finally:
        with tenant_context(tenants.alpha):
            campaign.delete()
            Contact.objects.filter(phone__in=phones).delete()
            campaign.script.delete()


@pytest.mark.django_db
def test_due_contacts_is_one_query_and_blocked_numbers_two(tenants, django_assert_num_queries):
    from outbound.rules import blocked_numbers

    with tenant_context(tenants.alpha):
        campaign = make_campaign(tenants.alpha)
        for n in range(20):
            add_contact(campaign, f"+1555040{n:04d}")
        campaign_control(campaign=campaign, action="start", now=timezone.now())
        with transaction.atomic(), django_assert_num_queries(1):
            assert len(list(due_contacts(campaign=campaign, now=timezone.now(), limit=10))) == 10
        with django_assert_num_queries(2):
            blocked_numbers([f"+1555040{n:04d}" for n in range(20)])


def test_the_last_two_attempts_settling_at_once_complete_the_campaign(committed, tenants):
    """Each settlement asks 'is any contact left?'; two at once must not both see the other's
    contact still in progress (the campaign would run forever with nothing to call)."""
    phones = [f"+1555{random.randrange(10**6, 10**7)}" for _ in range(2)]
    with tenant_context(tenants.alpha):
        campaign = make_campaign(tenants.alpha, max_attempts=1)
        contacts = [add_contact(campaign, phone) for phone in phones]
        campaign_control(campaign=campaign, action="start", now=timezone.now())
        attempts = [start_attempt(campaign_contact=c, now=timezone.now()) for c in contacts]
    first_written, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def settle(attempt, outcome: str, hold: bool) -> None:
        try:
            with tenant_context(tenants.alpha), transaction.atomic():
                record_attempt_result(attempt=attempt, outcome=outcome, now=timezone.now())
                if hold:  # written, not committed: the other settles now
                    first_written.set()
                    assert release.wait(20)
        except BaseException as exc:
            errors.append(exc)
            first_written.set()
        finally:
            connection.close()

    first = threading.Thread(target=settle, args=(attempts[0], "answered", True))
    second = threading.Thread(target=settle, args=(attempts[1], "busy", False))
    try:
        first.start()
        assert first_written.wait(20)
        second.start()
        second.join(1)  # it either waits for the first (the fix) or finishes on its own
        release.set()
        first.join(20)
        second.join(20)
        assert not errors, errors
        with tenant_context(tenants.alpha):
            assert set(CampaignContact.objects.filter(campaign=campaign).values_list("state", flat=True)) == {
                "done",
                "exhausted",
            }
            campaign.refresh_from_db()
            assert campaign.state == "completed"
    finally:
        release.set()
        with tenant_context(tenants.alpha):
            campaign.delete()
            Contact.objects.filter(phone__in=phones).delete()
