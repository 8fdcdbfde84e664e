"""The first invoice of a contract (the first month's fees in advance and the deposit), in the
public schema: it is issued before the client company goes live, and the go-live waits for it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.functional import cached_property

from tenants.money import money

MONEY = {"max_digits": 14, "decimal_places": 2}


class FirstInvoiceQuerySet(models.QuerySet["FirstInvoice"]):
    def with_paid(self) -> FirstInvoiceQuerySet:
        """Each invoice with what was paid against it, read in the same query (``FirstInvoice.paid``)."""
        return self.annotate(paid_sum=Coalesce(Sum("payments__amount"), Value(Decimal(0))))


class FirstInvoice(models.Model):
    """Issued when the client accepts its contract; the client goes live once it is paid in full
    (or an account manager overrides, with a reason). Its PDF bytes never change."""

    contract = models.OneToOneField(
        "tenants.Contract", on_delete=models.PROTECT, related_name="first_invoice"
    )
    client = models.ForeignKey("tenants.Client", on_delete=models.PROTECT, related_name="first_invoices")
    number = models.CharField(max_length=40, unique=True)
    version_number = models.PositiveIntegerField(help_text="The contract version it charges.")
    issued_on = models.DateField()
    due_on = models.DateField()
    currency = models.CharField(max_length=3)
    lines = models.JSONField(help_text="description, quantity, unit_price, amount, tax_percent (strings).")
    taxes = models.JSONField(default=list, help_text="Net and tax per rate (strings).")
    subtotal = models.DecimalField(**MONEY, help_text="Net of the taxed lines and the deposit.")
    tax = models.DecimalField(**MONEY)
    total = models.DecimalField(**MONEY)
    seller = models.JSONField()
    buyer = models.JSONField()
    bank = models.JSONField()
    payment_reference = models.CharField(max_length=40)
    pdf = models.BinaryField()
    pdf_sha256 = models.CharField(max_length=64)
    override_reason = models.CharField(max_length=500, blank=True)
    override_by_name = models.CharField(max_length=200, blank=True)
    override_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = FirstInvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(total=models.F("subtotal") + models.F("tax")), name="first_invoice_total_sum"
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="first_invoice_total_not_negative"),
        ]

    def __str__(self) -> str:
        return self.number

    @cached_property
    def paid(self) -> Decimal:
        """What was paid against it (one currency: payments in another one are refused), read once:
        with the invoice when it was read ``with_paid()``, else on first use."""
        paid_sum = getattr(self, "paid_sum", None)
        if paid_sum is None:
            paid_sum = FirstInvoice.objects.with_paid().values_list("paid_sum", flat=True).get(pk=self.pk)
        return money(paid_sum, self.currency)

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        """Reloaded, the invoice reads its payments again."""
        self.__dict__.pop("paid", None)
        self.__dict__.pop("paid_sum", None)
        super().refresh_from_db(*args, **kwargs)

    @property
    def balance_due(self) -> Decimal:
        return money(max(self.total - self.paid, Decimal(0)), self.currency)

    @property
    def credit(self) -> Decimal:
        """Paid beyond the total: held as the client's credit, never lost."""
        return money(max(self.paid - self.total, Decimal(0)), self.currency)

    @property
    def is_paid(self) -> bool:
        return self.paid >= self.total

    @property
    def status(self) -> str:
        if self.is_paid:
            return "paid"
        return "partly paid" if self.paid else "awaiting payment"
