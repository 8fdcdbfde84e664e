"""Issue 23: the queues' rules are kept in each process until they change (a version in Redis that
each save bumps as it commits), read again within a second of a change in another process, not
every 5 s for every company's queues."""

from __future__ import annotations

import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from config import change_versions
from telephony import routing
from telephony.models import Queue
from telephony.routing import queues


def _ring_timeout(queue: Queue) -> int:
    return routing.rules_for([queue.pk])[queue.pk].ring_timeout


def test_the_rules_are_read_again_within_a_second_of_a_change_elsewhere(db, tenants):
    queue = Queue.objects.create(tenant=tenants.alpha, name="Rules", ring_timeout=20)
    assert _ring_timeout(queue) == 20
    Queue.objects.filter(pk=queue.pk).update(ring_timeout=33)  # as another process's save, unseen here
    time.sleep(queues.RULES_VERSION_EVERY)
    assert _ring_timeout(queue) == 20  # same version: kept, no statement
    change_versions.bump(queues.RULES_VERSION)  # what that save does as it commits
    time.sleep(queues.RULES_VERSION_EVERY)
    assert _ring_timeout(queue) == 33


def test_a_save_of_a_queue_or_a_company_bumps_the_version_as_it_commits(
    db, tenants, django_capture_on_commit_callbacks
):
    queue = Queue.objects.create(tenant=tenants.beta, name="Bumped")
    before = change_versions.current(queues.RULES_VERSION)
    with django_capture_on_commit_callbacks() as callbacks:
        queue.save()
    assert change_versions.current(queues.RULES_VERSION) == before  # not before the commit
    for callback in callbacks:
        callback()
    after_queue = change_versions.current(queues.RULES_VERSION)
    assert after_queue != before
    with django_capture_on_commit_callbacks(execute=True):
        tenants.beta.save()  # its name is in the rules
    assert change_versions.current(queues.RULES_VERSION) != after_queue


def test_with_redis_away_the_rules_are_kept_five_seconds_at_most(db, tenants, monkeypatch):
    away = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    monkeypatch.setattr(change_versions, "_redis", lambda: away)
    queue = Queue.objects.create(tenant=tenants.alpha, name="Away", ring_timeout=20)
    queue.save()  # its bump is logged, not raised: the save stands
    assert _ring_timeout(queue) == 20
    Queue.objects.filter(pk=queue.pk).update(ring_timeout=33)  # another process's, its bump lost
    time.sleep(queues.RULES.unknown_ttl)  # 5 s: the bound before versions
    assert _ring_timeout(queue) == 33
