"""The audit trail: every state change of orders, contracts and client companies."""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """Who did what to which object, when, with the state before and after.

    The actor may be platform staff (public schema) or a client's user (a tenant schema), so
    the actor is kept as schema + id + a readable name rather than a foreign key.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_schema = models.CharField(max_length=63, blank=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_name = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=32)
    object_id = models.BigIntegerField()
    client = models.ForeignKey(
        "tenants.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name or 'system'}: {self.action}"
