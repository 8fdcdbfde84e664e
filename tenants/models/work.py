"""Which client companies have periodic work waiting, in the public schema (issue 23).

A periodic pass over every company (the reconciliation with Twilio every minute, the sweep of
lost webhook retries) visited 1,000 companies to find the few with something to do. Instead each
company with work of a kind has one row here, due when that work may need the pass: the change
that makes the work writes it (``tenants.work.mark``), the pass visits only the companies due and,
having done its work, keeps the row due while work is left or deletes it (``tenants.work.settle``).
"""

from __future__ import annotations

from django.db import models


class CompanyWork(models.Model):
    class Kind(models.TextChoices):
        # Calls not ended (a lost final status callback) and recordings whose audio was not stored:
        # ``telephony.reconcile``.
        CALLS = "calls", "Calls to reconcile with Twilio"
        # Outgoing webhook deliveries still pending (a lost retry message): ``reporting.webhook_delivery``.
        WEBHOOKS = "webhooks", "Webhook deliveries pending"

    tenant = models.ForeignKey("tenants.Client", on_delete=models.CASCADE, related_name="work")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    due_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "kind"], name="company_work_once")]
        indexes = [models.Index(fields=["kind", "due_at"], name="company_work_due")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.kind} due {self.due_at:%Y-%m-%d %H:%M:%S}"
