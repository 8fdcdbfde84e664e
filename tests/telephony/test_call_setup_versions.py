"""A company's call setup, kept by each process and read again as soon as it changes anywhere:
a save bumps the company's setup version in Redis as it commits (issue 23)."""

from __future__ import annotations

import redis
from django_tenants.utils import tenant_context

from config import change_versions
from telephony.calls.company import call_setup, setup_changed, setup_version
from telephony.calls.models import TelephonySettings
from telephony.models import Queue


def test_a_process_keeps_the_setup_until_another_process_changes_it(db, tenants, django_assert_num_queries):
    with tenant_context(tenants.alpha):
        settings = TelephonySettings.current()
        call_setup()
        with django_assert_num_queries(0):  # kept: no statement, whatever the company's calls
            assert call_setup().settings.greeting == settings.greeting
        # Another process changes the greeting: its write commits, then bumps the version.
        TelephonySettings.objects.filter(pk=settings.pk).update(greeting="Changed elsewhere.")
        with django_assert_num_queries(0):
            assert call_setup().settings.greeting == settings.greeting  # not bumped yet: kept
        setup_changed(tenants.alpha.schema_name)
        assert call_setup().settings.greeting == "Changed elsewhere."  # the next call reads it


def test_saving_a_settings_row_or_a_queue_bumps_that_company_only(
    db, tenants, django_capture_on_commit_callbacks
):
    alpha, beta = tenants.alpha.schema_name, tenants.beta.schema_name
    before = setup_version(alpha), setup_version(beta)
    with tenant_context(tenants.alpha):
        settings = TelephonySettings.current()
        settings.greeting = "Saved here."
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            settings.save()
        assert setup_version(alpha) == before[0]  # not before the change commits
        for callback in callbacks:
            callback()
    once = setup_version(alpha)
    assert once != before[0] and setup_version(beta) == before[1]
    # A queue lives in public: the version bumped is its company's, whatever schema saved it.
    queue = Queue.objects.filter(tenant=tenants.alpha).first() or Queue.objects.create(
        tenant=tenants.alpha, name="Main", is_default=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        queue.save()
    assert setup_version(alpha) != once and setup_version(beta) == before[1]


def test_with_redis_away_the_setup_is_read_for_every_call(
    db, tenants, monkeypatch, django_assert_num_queries
):
    away = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    monkeypatch.setattr(change_versions, "_redis", lambda: away)
    with tenant_context(tenants.alpha):
        settings = TelephonySettings.current()
        call_setup()
        TelephonySettings.objects.filter(pk=settings.pk).update(greeting="Never stale.")
        assert call_setup().settings.greeting == "Never stale."  # read again, not kept
        setup_changed(tenants.alpha.schema_name)  # logged, not raised: the save that called it stands
