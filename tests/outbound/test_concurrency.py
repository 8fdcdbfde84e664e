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
from outbound.rules import due_contacts
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
