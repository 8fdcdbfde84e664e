"""The service catalogue the center sells, and its tariffs (Decimal money with a currency)."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Rounding(models.TextChoices):
    """How call durations are rounded before per-minute prices apply."""

    PER_SECOND = "1/1", "Per second"
    SIX_SIX = "6/6", "6/6 (first 6 s, then 6 s steps)"
    THIRTY_SIX = "30/6", "30/6 (first 30 s, then 6 s steps)"
    PER_STARTED_MINUTE = "60/60", "Per started minute"


class Service(models.Model):
    """One thing the center sells: an inbound hotline, an outbound campaign, an IVR, 24/7 coverage…"""

    class Kind(models.TextChoices):
        INBOUND = "inbound", "Inbound hotline"
        OUTBOUND = "outbound", "Outbound campaign"
        SURVEY = "survey", "Survey"
        IVR = "ivr", "Automatic attendant (IVR)"
        RECORDING = "recording", "Call recording"
        TRANSFER = "transfer", "Transfer to your specialists"
        COVERAGE = "coverage", "Coverage"
        LANGUAGE = "language", "Language"

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True, help_text="Offered on the order form.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def current_tariff(self, on: datetime.date | None = None) -> Tariff | None:
        """The tariff in force on ``on`` (today by default): the latest one that started by then."""
        on = on or timezone.localdate()
        return self.tariffs.filter(valid_from__lte=on).order_by("-valid_from").first()


class Tariff(models.Model):
    """Prices of a service from a date on; a new price is a new row, so history is kept."""

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="tariffs")
    valid_from = models.DateField()
    currency = models.CharField(
        max_length=3, default="EUR", validators=[RegexValidator(r"^[A-Z]{3}$", "An ISO 4217 code: EUR, USD…")]
    )
    monthly_fee = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"),
                                      validators=[MinValueValidator(Decimal("0"))])  # fmt: skip
    per_minute = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("0.0000"),
                                     validators=[MinValueValidator(Decimal("0"))])  # fmt: skip
    per_call = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("0.0000"),
                                   validators=[MinValueValidator(Decimal("0"))])  # fmt: skip
    rounding = models.CharField(max_length=8, choices=Rounding.choices, default=Rounding.PER_SECOND)
    tax_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Tax added to these prices (VAT), proposed on new contracts; the contract fixes it.",
    )  # fmt: skip

    class Meta:
        ordering = ["service", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["service", "valid_from"], name="tariff_one_per_service_and_day"),
            models.CheckConstraint(
                condition=Q(monthly_fee__gte=0) & Q(per_minute__gte=0) & Q(per_call__gte=0),
                name="tariff_prices_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(tax_percent__gte=0) & Q(tax_percent__lte=100), name="tariff_tax_percent_range"
            ),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="tariff_currency_iso"),
        ]

    def __str__(self) -> str:
        return f"{self.service} from {self.valid_from}"

    def as_terms(self) -> dict[str, str]:
        """The prices as plain strings, to copy into a contract version (a later change never alters it)."""
        return {
            "service": self.service.name,
            "service_code": self.service.code,
            "currency": self.currency,
            "monthly_fee": str(self.monthly_fee),
            "per_minute": str(self.per_minute),
            "per_call": str(self.per_call),
            "rounding": self.rounding,
            "rounding_label": Rounding(self.rounding).label,
            "tax_percent": str(self.tax_percent),
        }
