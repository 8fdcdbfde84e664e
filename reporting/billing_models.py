"""Invoices, their lines and credit notes (tenant schema). An issued invoice never changes."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from tenants.money import amount

MONEY = {"max_digits": 14, "decimal_places": 2}
FROZEN_FIELDS = (
    "number",
    "period_start",
    "period_end",
    "currency",
    "subtotal",
    "tax_percent",
    "taxes",
    "tax",
    "total",
    "digest",
    "issued_at",
    "pdf_sha256",
)


class Invoice(models.Model):
    """One month of service for this client company, from its contract's tariffs and its calls."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        ISSUED = "issued", "Issued"
        PAID = "paid", "Paid"

    number = models.CharField(max_length=32, unique=True)
    period_start = models.DateField(unique=True, help_text="First local day of the month billed.")
    period_end = models.DateField(help_text="Last local day of the month billed.")
    state = models.CharField(max_length=8, choices=State.choices, default=State.DRAFT)
    currency = models.CharField(max_length=3)
    contract_reference = models.CharField(max_length=32, blank=True)
    subtotal = models.DecimalField(**MONEY, default=Decimal("0.00"), help_text="Net: the lines' amounts.")
    tax_percent = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, help_text="The tax rate; empty when several."
    )
    taxes = models.JSONField(
        default=list,
        blank=True,
        help_text="Tax per rate: percent, net, tax (strings), reverse_charge and client_vat_id.",
    )
    tax = models.DecimalField(**MONEY, default=Decimal("0.00"), help_text="The sum of the tax per rate.")
    total = models.DecimalField(**MONEY, default=Decimal("0.00"), help_text="Gross: net + tax.")
    digest = models.CharField(
        max_length=64, help_text="SHA-256 of the lines and totals: same data, same digest."
    )
    built_at = models.DateTimeField()
    issued_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    payment_reference = models.CharField(
        max_length=100,
        blank=True,
        help_text="The bank transfer's reference, as recorded by the account manager.",
    )
    pdf = models.BinaryField(null=True, blank=True, help_text="The exact bytes issued to the client.")
    pdf_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(total=models.F("subtotal") + models.F("tax")),
                name="invoice_total_is_subtotal_plus_tax",
            ),
            models.CheckConstraint(
                condition=Q(state="draft") | Q(issued_at__isnull=False) & ~Q(pdf_sha256=""),
                name="invoice_issued_has_document",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args, **kwargs) -> None:
        """Once issued, only the move to paid may be saved."""
        if self.pk:
            stored = Invoice.objects.filter(pk=self.pk).values("state", *FROZEN_FIELDS).first()
            if stored and stored["state"] != self.State.DRAFT:
                changed = [f for f in FROZEN_FIELDS if stored[f] != getattr(self, f)]
                if changed or self.state == self.State.DRAFT:
                    raise ValidationError(f"Invoice {self.number} was issued; correct it with a credit note.")
        super().save(*args, **kwargs)

    @property
    def tax_rates(self) -> list[dict[str, object]]:
        """Tax per rate as shown: ``label``, ``percent``, ``net``, ``tax`` (net and tax in the
        currency's smallest unit; an invoice built before the breakdown existed has its one rate)."""
        rows = self.taxes or [
            {"percent": str(self.tax_percent or Decimal("0.00")), "net": str(self.subtotal),
             "tax": str(self.tax), "reverse_charge": False, "client_vat_id": ""}
        ]  # fmt: skip
        return [
            {
                **row,
                "percent": Decimal(row["percent"]),
                "net": amount(row["net"], self.currency),
                "tax": amount(row["tax"], self.currency),
                "label": (
                    f"Reverse charge: VAT to be accounted for by the client, VAT id {row['client_vat_id']}"
                    if row["reverse_charge"]
                    else f"Tax {row['percent']} % on {amount(row['net'], self.currency)}"
                ),
            }
            for row in rows
        ]


class InvoiceLine(models.Model):
    """One priced quantity; ``calls`` says which call records it counts (see ``billing.line_calls``)."""

    class Kind(models.TextChoices):
        MONTHLY_FEE = "monthly_fee", "Monthly fee"
        MINUTES = "minutes", "Minutes"
        CALLS = "calls", "Calls"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    service_code = models.CharField(max_length=40)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    description = models.CharField(max_length=200)
    quantity = models.DecimalField(max_digits=14, decimal_places=4)
    unit_price = models.DecimalField(max_digits=10, decimal_places=4)
    amount = models.DecimalField(**MONEY)
    call_count = models.PositiveIntegerField(default=0)
    billed_seconds = models.BigIntegerField(default=0)
    rounding = models.CharField(max_length=8, blank=True)
    period_start = models.DateField(null=True, blank=True, help_text="First local day this line prices.")
    period_end = models.DateField(null=True, blank=True, help_text="Last local day this line prices.")
    contract_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The contract version whose prices apply."
    )
    tax_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0.00"))
    reverse_charge = models.BooleanField(default=False)

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="invoice_line_position_unique")
        ]

    def __str__(self) -> str:
        return f"{self.invoice} #{self.position} {self.description}"

    def save(self, *args, **kwargs) -> None:
        if Invoice.objects.filter(pk=self.invoice_id).exclude(state=Invoice.State.DRAFT).exists():
            raise ValidationError("The lines of an issued invoice cannot change.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.invoice.state != Invoice.State.DRAFT:
            raise ValidationError("The lines of an issued invoice cannot change.")
        return super().delete(*args, **kwargs)


class CreditNote(models.Model):
    """A correction of an issued invoice: an amount credited back, with its reason."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    number = models.CharField(max_length=32, unique=True)
    reason = models.CharField(max_length=300)
    subtotal = models.DecimalField(**MONEY)
    tax = models.DecimalField(**MONEY)
    total = models.DecimalField(**MONEY)
    taxes = models.JSONField(
        default=list, blank=True, help_text="Net and tax credited per rate of the invoice."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by_name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(subtotal__gt=0), name="credit_note_positive"),
            models.CheckConstraint(
                condition=Q(total=models.F("subtotal") + models.F("tax")),
                name="credit_note_total_is_subtotal_plus_tax",
            ),
        ]

    def __str__(self) -> str:
        return self.number
