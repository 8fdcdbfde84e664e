"""Live supervision of calls (R21), in the public schema beside the router's rows it points at:
supervisors are platform staff and a call's conference is live routing state.

Imported by ``telephony.models``. The history (who, when, which mode) is written as call events in
the company's schema (``telephony.supervision``); these rows only say who is on which call now.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from tenants.phones import E164_PATTERN, E164_VALIDATOR


class MonitorMode(models.TextChoices):
    LISTEN = "listen", "Listen (muted)"
    WHISPER = "whisper", "Whisper (only the operator hears)"
    BARGE = "barge", "Barge (caller and operator hear)"


class MonitorDevice(models.TextChoices):
    BROWSER = "browser", "Browser phone"
    PHONE = "phone", "My phone number"


class SupervisorProfile(models.Model):
    """A supervisor's own line for monitoring calls when not using the browser phone."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="supervisor_profile"
    )
    phone = models.CharField(max_length=16, blank=True, validators=[E164_VALIDATOR])

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(phone="") | Q(phone__regex=E164_PATTERN), name="supervisor_phone_e164"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.phone or 'browser'})"


class Monitoring(models.Model):
    """One supervisor on one live call's conference; written only once Twilio took the participant,
    closed when they leave, their leg fails, or the call ends (at most one open per supervisor)."""

    call = models.ForeignKey("telephony.WaitingCall", on_delete=models.CASCADE, related_name="monitorings")
    supervisor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    supervisor_name = models.CharField(max_length=150)
    mode = models.CharField(max_length=8, choices=MonitorMode.choices)
    device = models.CharField(max_length=8, choices=MonitorDevice.choices)
    leg_sid = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=80, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["supervisor"],
                condition=Q(ended_at__isnull=True),
                name="monitoring_one_open_per_supervisor",
            ),
            models.CheckConstraint(condition=Q(mode__in=MonitorMode.values), name="monitoring_mode_known"),
        ]

    def __str__(self) -> str:
        return f"{self.supervisor_name} {self.mode} on {self.call_id}"
