"""A client company's statistics and invoices (tenant schema)."""

from __future__ import annotations

from django.db import models
from django.utils.functional import cached_property

from reporting import kpis
from reporting.billing_models import CreditNote, Invoice, InvoiceLine
from reporting.keys import ApiKey
from reporting.webhook_models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "ApiKey",
    "CreditNote",
    "Invoice",
    "InvoiceLine",
    "Statistic",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]


class Statistic(models.Model):
    """Counts of one period (15 minutes or one local day) for one queue or one operator.

    Rebuilt from the call records by ``reporting.stats``: one row per (granularity, dimension,
    period, key), updated in place, so building a period twice gives the same rows.
    """

    class Granularity(models.TextChoices):
        INTERVAL = "15m", "15 minutes"
        DAY = "day", "Day"

    class Dimension(models.TextChoices):
        QUEUE = "queue", "Queue"
        OPERATOR = "operator", "Operator"

    granularity = models.CharField(max_length=4, choices=Granularity.choices)
    dimension = models.CharField(max_length=8, choices=Dimension.choices)
    period_start = models.DateTimeField()
    day = models.DateField(help_text="The client company's local date of the period.")
    key = models.IntegerField(help_text="Queue or operator id (platform); 0: calls without a queue.")
    name = models.CharField(max_length=150, blank=True)
    sl_seconds = models.PositiveSmallIntegerField(default=kpis.DEFAULT_SL_SECONDS)
    short_abandon_seconds = models.PositiveSmallIntegerField(default=kpis.DEFAULT_SHORT_ABANDON_SECONDS)
    calls = models.PositiveIntegerField(default=0)
    offered = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    answered_within_sl = models.PositiveIntegerField(default=0)
    abandoned = models.PositiveIntegerField(default=0)
    short_abandons = models.PositiveIntegerField(default=0)
    wait_answered_ms = models.BigIntegerField(default=0, help_text="Exact waits of answered calls, in ms.")
    handled = models.PositiveIntegerField(default=0)
    talk_seconds = models.BigIntegerField(default=0)
    hold_seconds = models.BigIntegerField(default=0)
    wrapup_seconds = models.BigIntegerField(default=0)
    inbound_handled = models.PositiveIntegerField(default=0)
    inbound_handle_seconds = models.BigIntegerField(default=0)
    outbound_handle_seconds = models.BigIntegerField(default=0)
    ivr_entered = models.PositiveIntegerField(default=0)
    ivr_contained = models.PositiveIntegerField(default=0)
    transfers = models.PositiveIntegerField(default=0)
    callbacks_requested = models.PositiveIntegerField(default=0)
    voicemails = models.PositiveIntegerField(default=0)
    outbound_attempts = models.PositiveIntegerField(default=0)
    outbound_handled = models.PositiveIntegerField(default=0)
    dispositions = models.JSONField(default=dict, blank=True)
    built_at = models.DateTimeField()

    class Meta:
        ordering = ["granularity", "period_start", "dimension", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["granularity", "dimension", "period_start", "key"], name="statistic_one_per_period"
            ),
            models.CheckConstraint(
                condition=models.Q(answered__lte=models.F("offered"))
                & models.Q(short_abandons__lte=models.F("abandoned"))
                & models.Q(answered_within_sl__lte=models.F("answered")),
                name="statistic_counts_consistent",
            ),
        ]
        indexes = [models.Index(fields=["granularity", "day"])]

    def __str__(self) -> str:
        return f"{self.granularity} {self.period_start:%Y-%m-%d %H:%M} {self.dimension} {self.key}"

    def totals(self) -> kpis.Totals:
        return kpis.Totals(
            **{name: getattr(self, name) for name in kpis.METRICS}, dispositions=self.dispositions
        )

    @cached_property
    def rates(self) -> dict[str, float | None]:
        return kpis.rates(self.totals())
