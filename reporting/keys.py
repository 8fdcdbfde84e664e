"""API keys of a client company (tenant schema): shown once, stored as a SHA-256 hash, with scopes.

A key is ``cck_<prefix>_<secret>``; the prefix finds the row, the hash of the whole key is compared
in constant time. Keys live in the tenant's schema, so a key is unknown on every other tenant's host.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.db import models
from django.utils import timezone


class Scope(models.TextChoices):
    READ_REPORTS = "read_reports", "Read statistics, invoices and scripts"
    READ_CALLS = "read_calls", "Read calls, their events and answers, and contacts"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKey(models.Model):
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by_name = models.CharField(max_length=150, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} (cck_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


def api_key_create(*, name: str, scopes: list[str], by: str = "") -> tuple[ApiKey, str]:
    """A new key and its secret text: the only time the text exists outside the caller."""
    unknown = set(scopes) - set(Scope.values)
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {Scope.values}")
    prefix = secrets.token_hex(4)
    text = f"cck_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        name=name, prefix=prefix, key_hash=_hash(text), scopes=sorted(set(scopes)), created_by_name=by
    )
    return key, text


def api_key_revoke(*, key: ApiKey) -> None:
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def access_api_key(text: str) -> ApiKey | None:
    """The active key of this schema whose text this is, or None."""
    parts = text.split("_")
    if len(parts) < 3 or parts[0] != "cck":
        return None
    key = ApiKey.objects.filter(prefix=parts[1], revoked_at__isnull=True).first()
    if key is None or not hmac.compare_digest(key.key_hash, _hash(text)):
        return None
    return key
