"""The data export written when a client company is closed, kept for the contract's notice period."""

from __future__ import annotations

from django.db import models


class ClientExport(models.Model):
    """One export file (``MEDIA_ROOT/<path>``); downloadable through a signed, expiring link by the
    company's admins and the account managers until ``keep_until``, then deleted."""

    client = models.ForeignKey("tenants.Client", on_delete=models.PROTECT, related_name="exports")
    path = models.CharField(max_length=300, help_text="Relative to MEDIA_ROOT.")
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    keep_until = models.DateTimeField()
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.client} export {self.created_at:%Y-%m-%d}"

    @property
    def filename(self) -> str:
        return f"{self.client.slug}-export-{self.created_at:%Y%m%d-%H%M%S}.json"
