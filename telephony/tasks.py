"""Celery entry points of telephony: thin, idempotent, taking ids.

The router's run in the public schema; ``store_recording`` in the call's client company's schema.
Nothing in telephony's domain modules imports this one: whoever enqueues a task sits above them
(``webhooks``, ``calls.answering``).
"""

from __future__ import annotations

import random

from django.db import transaction
from django_tenants.utils import tenant_context

from config.celery import app, send_after_commit, tenant_task
from config.queries import one
from config.single_flight import single_flight
from telephony import (
    callback_dial,
    conference_exits,
    conferences,
    recording_access,
    recordings,
    routing,
)
from telephony.calls.models import Call
from telephony.gateway import TwilioUnavailable
from telephony.recordings import RecordingNotReady
from telephony.routing import callbacks as kept_callbacks
from tenants.models import Client
from tenants.switching import company_context


def delay_on_commit(tenant: Client, task, *args: object) -> None:
    """Send a company's task once the current transaction commits, in that company's schema (the
    task runs there: the schema travels with the message). A send that fails is logged, never the
    request's failure (``config.celery.send_after_commit``)."""

    def send() -> None:
        with company_context(tenant):
            send_after_commit(task, *args)

    transaction.on_commit(send)


BRIDGE_RETRIES = 5  # about 15 s of backoff in all: the caller is listening to music meanwhile
TICK_LOCK_SECONDS = 30  # a routing tick still running after this long is presumed dead


@app.task(acks_late=True, ignore_result=True)
def routing_tick() -> int:
    """Run by beat every 2 s: expire unanswered offers, put back in line the callbacks due for their
    next try, hand to the callback list those waiting in vain (nobody staffs their queue), move out
    of their conference the callers past the queue's maximum wait (or with nobody staffed), then
    match (overflow timers open tiers). Never two at once: a tick finding another running skips."""
    with single_flight("routing-tick", timeout=TICK_LOCK_SECONDS) as mine:
        if not mine:
            return 0
        routing.expire_reservations()
        kept_callbacks.wake_due()
        callback_dial.hand_over_unstaffed()
        conference_exits.move_out_overdue()
        return len(routing.match())


@app.task(acks_late=True, ignore_result=True)
def match_queues(queue_ids: list[int]) -> int:
    """Match the waiting calls of these queues (e.g. after their settings or skills changed)."""
    return len(routing.match(queue_ids=queue_ids))


def bridge_backoff(retries: int) -> float:
    """Seconds before the next try: 0.5, 1, 2, 4, 8 (jittered by up to a quarter)."""
    delay = min(8.0, 0.5 * 2**retries)
    return delay * random.uniform(0.75, 1.0)


@app.task(bind=True, acks_late=True, ignore_result=True, max_retries=BRIDGE_RETRIES)
def bridge_call(self, waiting_call_id: int) -> bool:
    """Connect an accepted call through its conference (idempotent: each step is done once).

    Twilio's 429, 5xx and timeouts are retried with backoff; past the last retry the attempt
    fails and the caller goes back in line (another operator first)."""
    try:
        return conferences.bridge(waiting_call_id=waiting_call_id)
    except TwilioUnavailable as exc:
        if self.request.retries >= self.max_retries:
            conferences.give_up(waiting_call_id=waiting_call_id, reason="Twilio unavailable")
            return False
        raise self.retry(exc=exc, countdown=bridge_backoff(self.request.retries)) from exc


@app.task(bind=True, acks_late=True, ignore_result=True, max_retries=BRIDGE_RETRIES)
def dial_back(self, waiting_call_id: int) -> bool:
    """Call back the caller of an accepted place-keeping callback (idempotent: one call per try).

    Twilio's 429, 5xx and timeouts are retried with backoff; past the last retry the try fails
    (the callback rules apply: its next try keeps the place)."""
    try:
        return callback_dial.dial(waiting_call_id=waiting_call_id)
    except TwilioUnavailable as exc:
        if self.request.retries >= self.max_retries:
            callback_dial.give_up(waiting_call_id=waiting_call_id, reason="Twilio unavailable")
            return False
        raise self.retry(exc=exc, countdown=bridge_backoff(self.request.retries)) from exc


@tenant_task(
    bind=True,
    acks_late=True,
    ignore_result=True,
    max_retries=8,
    autoretry_for=(RecordingNotReady,),
    retry_backoff=15,
    retry_backoff_max=1800,
)
def store_recording(self, call_id: int) -> str:
    """Fetch a finished call recording into the tenant's storage (retried while Twilio can't serve it)."""
    return recordings.store_recording(call_id=call_id)


# Calls set up by the version before 2026-12-05 (muted until an announcement on the operator's
# participant), being connected while this one is deployed. Both names are the ones that version
# queued its tasks under (a release due 15 s later may wait in the queue). To be removed once no
# such call is left: the release after this one.
@tenant_task(bind=True, acks_late=True, ignore_result=True, max_retries=BRIDGE_RETRIES)
def release_caller(self, call_id: int, reservation_id: int | None, reason: str) -> bool:
    """Unmute the caller and the operator of that attempt (``conferences.put_through``)."""
    call = one(Call.objects.filter(pk=call_id))
    if call is None:
        return False
    try:
        return conferences.put_through(call=call, reservation_id=reservation_id, reason=reason)
    except TwilioUnavailable as exc:
        raise self.retry(exc=exc, countdown=bridge_backoff(self.request.retries)) from exc


@tenant_task(acks_late=True, ignore_result=True)
def announce_to_operator(call_id: int, reservation_id: int) -> bool:
    """Queued by that version when its operator joined: put them through now (no announcement)."""
    release_caller.delay(call_id, reservation_id, "announcement no longer asked for")
    return True


@app.task(acks_late=True, ignore_result=True)
def dispatch_recording_retention() -> int:
    """Beat, daily, in public: each client company deletes the recordings its contract keeps no longer."""
    count = 0
    for company in Client.objects.companies():
        with tenant_context(company):
            purge_recordings.delay()
        count += 1
    return count


@tenant_task(acks_late=True)
def purge_recordings() -> int:
    """Recordings past the contract's ``recording_retention_months``: deleted, each deletion logged."""
    return recording_access.purge_recordings()
