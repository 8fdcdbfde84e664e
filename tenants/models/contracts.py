"""Contracts drafted from orders, their versions, acceptances and the first payment."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from tenants.models.invoices import FirstInvoice
from tenants.money import contract_currency, shown
from tenants.queue_terms import QueueTermsSet, queue_terms, seats_sentence


class Contract(models.Model):
    """The agreement with one client company; its text lives in versions (R4)."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        SENT = "sent", "Sent, awaiting acceptance"
        ACCEPTED = "accepted", "Accepted"

    order = models.OneToOneField("tenants.Order", on_delete=models.PROTECT, related_name="contract")
    client = models.ForeignKey(
        "tenants.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="contracts"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    in_force = models.ForeignKey(
        "tenants.ContractVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The accepted version that governs the service.",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["draft", "sent", "accepted"]), name="contract_state_known"
            )
        ]

    def __str__(self) -> str:
        return f"Contract {self.reference}"

    @property
    def reference(self) -> str:
        return f"CC-{self.created_at:%Y}-{self.pk:05d}" if self.pk and self.created_at else "CC-new"

    @property
    def latest(self) -> ContractVersion | None:
        return self.versions.order_by("-number").first()

    @property
    def is_paid(self) -> bool:
        """Ready to go live on the money side: the first invoice paid in full, or an account
        manager's override (with its reason)."""
        invoice = FirstInvoice.objects.with_paid().filter(contract=self).defer("pdf").first()
        return invoice is not None and (invoice.is_paid or bool(invoice.override_reason))


# Content fields of a version: once the version is sent, none of them may change.
FROZEN_FIELDS = (
    "number", "terms", "tariffs", "body", "pdf", "pdf_sha256",
)  # fmt: skip


class ContractVersion(models.Model):
    """One text of a contract. Each save of a draft is a new version; sent versions never change."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        SENT = "sent", "Sent"
        ACCEPTED = "accepted", "Accepted"
        SUPERSEDED = "superseded", "Superseded"

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    terms = models.JSONField(help_text="Parties, coverage, service level, term and notice.")
    tariffs = models.JSONField(help_text="Prices copied from the catalogue when the version was drafted.")
    body = models.TextField(blank=True, help_text="Special conditions written by the account manager.")
    created_by_name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_by_name = models.CharField(max_length=200, blank=True)
    pdf = models.BinaryField(null=True, blank=True, help_text="The exact bytes sent to the client.")
    pdf_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["contract", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "number"], name="contract_version_number_unique"),
            models.CheckConstraint(
                condition=Q(state="draft")
                | Q(state="superseded", sent_at__isnull=True)
                | (Q(sent_at__isnull=False) & ~Q(pdf_sha256="")),
                name="contract_version_sent_has_document",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract.reference} v{self.number}"

    def save(self, *args, **kwargs) -> None:
        """A sent or accepted version is a record of what the client saw: its text is immutable."""
        if self.pk:
            stored = ContractVersion.objects.filter(pk=self.pk).values("state", *FROZEN_FIELDS).first()
            if stored and stored["state"] != self.State.DRAFT:
                changed = [f for f in FROZEN_FIELDS if _as_bytes(stored[f]) != _as_bytes(getattr(self, f))]
                if changed:
                    raise ValidationError(
                        f"Version {self.number} was sent; its {', '.join(changed)} cannot change. "
                        "Draft a new version instead."
                    )
        super().save(*args, **kwargs)

    @property
    def is_frozen(self) -> bool:
        return self.state != self.State.DRAFT

    @property
    def seats_sentence(self) -> str:
        """How the shared pool serves the client under this version (page and PDF say the same)."""
        return seats_sentence(self.terms)

    @property
    def currency(self) -> str:
        """The currency of the version's prices (``tenants.money.contract_currency``)."""
        return contract_currency(self.tariffs)

    @property
    def deposit_shown(self) -> str:
        """The deposit with its currency as page and PDF print it (``30000 JPY``); empty for none."""
        deposit = Decimal(str(self.terms.get("deposit") or "0"))
        return shown(deposit, self.currency) if deposit else ""

    @property
    def queue_terms(self) -> QueueTermsSet:
        """The version's terms per queue (``tenants.queue_terms.queue_terms``: old versions too)."""
        return queue_terms(self.terms)


def _as_bytes(value: object) -> object:
    return bytes(value) if isinstance(value, memoryview) else value


class Acceptance(models.Model):
    """The client's acceptance of one sent version (R5): who, when, from where, of which bytes."""

    version = models.OneToOneField(ContractVersion, on_delete=models.PROTECT, related_name="acceptance")
    client = models.ForeignKey("tenants.Client", on_delete=models.PROTECT, related_name="acceptances")
    user_id = models.BigIntegerField(help_text="The user's id in the client's schema.")
    user_name = models.CharField(max_length=200)
    user_email = models.EmailField()
    accepted_at = models.DateTimeField(auto_now_add=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    pdf_sha256 = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"{self.version} accepted by {self.user_name}"


class Payment(models.Model):
    """A payment recorded by the account manager against one invoice (no payment gateway yet):
    the first invoice (``invoice``) or a monthly one (``invoice_number``, in the client's schema)."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="payments")
    invoice = models.ForeignKey(
        FirstInvoice, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    invoice_number = models.CharField(max_length=40, blank=True, help_text="The invoice this pays.")
    amount = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    currency = models.CharField(max_length=3)
    paid_on = models.DateField()
    reference = models.CharField(max_length=80, unique=True)
    from_credit = models.BooleanField(
        default=False, help_text="Paid out of the client's credit (an earlier over-payment), not new money."
    )
    recorded_by_name = models.CharField(max_length=200)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-paid_on"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive")]

    def __str__(self) -> str:
        return f"{shown(self.amount, self.currency)} on {self.paid_on} ({self.reference})"
