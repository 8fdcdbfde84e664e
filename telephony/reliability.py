"""Celery entry points of issue 22 (thin; scheduled by ``CELERY_BEAT_SCHEDULE`` with an expiry):
the consoles' presence sweep and the reconciliation with Twilio."""

from __future__ import annotations

import logging

from django_tenants.utils import tenant_context

from config.celery import app, send_after_commit, tenant_task
from config.single_flight import single_flight
from telephony import console_presence, reconcile
from telephony.tasks import TICK_LOCK_SECONDS, store_recording
from tenants import work
from tenants.models import Client

log = logging.getLogger(__name__)


@app.task(acks_late=True, ignore_result=True)
def sweep_presence() -> int:
    """Every 5 s (public schema): operators with no live console go offline (offers re-routed)."""
    return len(console_presence.sweep())


@app.task(acks_late=True, ignore_result=True)
def reconcile_calls() -> int:
    """Every minute (public schema): overdue offers expired; Twilio's unknown recordings imported
    (their audio fetched); each company with calls not ended or recordings not stored
    (``tenants.work``, not every company) reconciled in its own schema."""
    with single_flight("routing-tick", timeout=TICK_LOCK_SECONDS) as mine:
        if mine:  # else the routing tick is expiring them right now
            reconcile.expire_offers()
    for company in reconcile.companies_due():
        with tenant_context(company):
            reconcile_company.delay()
    imported = reconcile.import_recordings()
    for schema, call_id in imported:
        with tenant_context(Client.objects.get(schema_name=schema)):
            store_recording.delay(call_id)  # import_recording committed: the row says where the audio is
    return len(imported)


@tenant_task(acks_late=True, ignore_result=True)
def reconcile_company() -> dict[str, int]:
    """One company's calls whose state has not moved for too long, asked of Twilio and finished;
    the recordings whose audio was never stored, fetched again."""
    done = reconcile.reconcile_company()
    fetched = reconcile.unstored_recordings()
    for call_id in fetched:
        send_after_commit(store_recording, call_id)
    if fetched:
        log.warning("%d recordings not stored are fetched again: %s", len(fetched), fetched)
        done["recordings fetched again"] = len(fetched)
    work.settle(work.Kind.CALLS, reconcile.work_left)  # visited again only while it has such work
    return done
