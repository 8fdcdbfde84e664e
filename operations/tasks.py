"""Certification's periodic task and its reaction to script changes (thin: see operations.certification)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from config.celery import app
from operations import certification
from tenants.models import Client


@app.task(acks_late=True, ignore_result=True)
def certifications_expire() -> int:
    """Record expired certificates (the router stopped using them at their date already)."""
    return certification.certifications_expire(now=timezone.now())


def on_major_version(sender: Any, *, client_id: int, number: int, **_: Any) -> None:
    """A major script version went live: the company's certificates are void."""
    client = Client.objects.get(pk=client_id)
    certification.certifications_void(
        client=client, reason=f"Script version {number} (a major change) went live.", now=timezone.now()
    )
