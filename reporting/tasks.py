"""Celery entry points for statistics, invoices and webhooks: thin, take ids or ISO dates, safe to run
twice. They import the domain modules; no domain module imports this one (``webhook_delivery``
sends its task by name)."""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from config.celery import app, send_after_commit, tenant_task
from reporting import billing, freshness, stats, webhook_delivery
from telephony import evidence
from telephony.calls.models import TelephonySettings
from tenants import contracts, work
from tenants.models import Client


@app.task(acks_late=True)
def dispatch_statistics() -> int:
    """Beat, in public: enqueue the recent build of each active client company whose calls changed
    since the last dispatch (``freshness``), inside its schema; the others have nothing new."""
    changed = freshness.take_changed()
    if not changed:
        return 0
    count = 0
    for client in Client.objects.companies().filter(status=Client.Status.ACTIVE, schema_name__in=changed):
        with tenant_context(client):
            build_recent_statistics.delay()
        count += 1
    return count


@tenant_task(acks_late=True)
def build_recent_statistics() -> int:
    """Yesterday and today (local): late call records of either land in their period."""
    today = timezone.now().astimezone(stats.local_zone()).date()
    return stats.build_days(first=today - dt.timedelta(days=1), last=today)


@tenant_task(acks_late=True)
def build_statistics(first: str, last: str) -> int:
    """On demand, for any local days ``first``..``last`` (ISO dates)."""
    return stats.build_days(first=dt.date.fromisoformat(first), last=dt.date.fromisoformat(last))


@tenant_task(acks_late=True)
def rebuild_statistics() -> int:
    """After the company's time zone changed: every statistics row anew in the new zone."""
    return stats.rebuild_all()


def on_telephony_settings_saving(sender: type, instance: TelephonySettings, **kwargs: object) -> None:
    """A change of the company's time zone rebuilds its statistics once the change is committed
    (``pre_save`` receiver, connected in ``ReportingConfig.ready``)."""
    if kwargs.get("raw"):
        return  # fixtures being loaded
    before = TelephonySettings.objects.filter(pk=instance.pk).values_list("timezone", flat=True).first()
    if before is not None and (before or "UTC") != (instance.timezone or "UTC"):
        company = connection.tenant  # the commit may come after its schema was left
        transaction.on_commit(lambda: _send_rebuild(company))


def _send_rebuild(company: Client) -> None:
    with tenant_context(company):
        send_after_commit(rebuild_statistics)


DEFAULT_EVIDENCE_RETENTION_MONTHS = contracts.DEFAULT_EVIDENCE_RETENTION_MONTHS


@app.task(acks_late=True)
def dispatch_evidence_purge() -> int:
    """Beat, daily, in public: each client company drops the evidence its contract no longer keeps."""
    count = 0
    for client in Client.objects.companies():
        with tenant_context(client):
            purge_evidence.delay()
        count += 1
    return count


@tenant_task(acks_late=True)
def purge_evidence() -> int:
    """Webhooks older than the contract's ``evidence_retention_months`` (else the default)."""
    contract = billing.contract_in_force()
    terms = contract.in_force.terms if contract else {}
    months = int(terms.get("evidence_retention_months") or DEFAULT_EVIDENCE_RETENTION_MONTHS)
    return evidence.purge(before=timezone.now() - dt.timedelta(days=months * 366 // 12 + 1))


@tenant_task(acks_late=True)
def build_invoice(month: str) -> int:
    """Build (or rebuild) the draft invoice of ``month`` (ISO date in it); an issued one stays as it is."""
    return billing.invoice_build(month=dt.date.fromisoformat(month)).pk


@tenant_task(name=webhook_delivery.DELIVER_TASK, acks_late=True)
def deliver_webhook(delivery_id: int) -> str:
    """One attempt of an outgoing webhook delivery (a replay or a not-yet-due one does nothing)."""
    delivery = webhook_delivery.deliver(delivery_id=delivery_id)
    return delivery.state if delivery else "skipped"


@app.task(acks_late=True)
def dispatch_webhook_retries() -> int:
    """Beat, in public: re-send the overdue webhook deliveries (lost retry messages) of the client
    companies with deliveries pending (``tenants.work``; not every company)."""
    sent = 0
    for client in work.due(work.Kind.WEBHOOKS):
        with tenant_context(client):
            for pk in webhook_delivery.overdue_delivery_ids():
                deliver_webhook.delay(pk)
                sent += 1
            work.settle(work.Kind.WEBHOOKS, webhook_delivery.pending_left)
    return sent
