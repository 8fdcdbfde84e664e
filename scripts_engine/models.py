"""Scripts in a client company's schema: scripts, their versions, the lists they use, and runs.

The approver of a version is platform staff, who live in the public schema: their id and name are
stored as plain values, never as a foreign key across schemas.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from tenants.phones import E164_PATTERN

IDENTIFIER = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
    "Use letters, digits and _, starting with a letter or _ (at most 64 characters).",
)
E164 = RegexValidator(E164_PATTERN, "Enter the number in international form, e.g. +493012345678.")


def graph_digest(graph: Any) -> str:
    """A stable fingerprint of a graph: same JSON, same digest, whatever the key order."""
    text = json.dumps(graph, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class Disposition(models.Model):
    """An outcome a call of this client company may end with (used by end and transfer nodes)."""

    code = models.CharField(max_length=64, unique=True, validators=[IDENTIFIER])
    label = models.CharField(max_length=120)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.label} ({self.code})"


class Specialist(models.Model):
    """A number of the client company's own staff that operators may transfer callers to (R8)."""

    key = models.CharField(max_length=64, unique=True, validators=[IDENTIFIER])
    name = models.CharField(max_length=120)
    phone = models.CharField(max_length=16, validators=[E164])
    hours = models.JSONField(
        default=dict,
        blank=True,
        help_text='When they take transfers: {"0": [["09:00", "17:00"]], …} (Monday = 0); empty: always.',
    )

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"


class Script(models.Model):
    class Purpose(models.TextChoices):
        INBOUND = "inbound", "Inbound calls"
        OUTBOUND = "outbound", "Outbound calls"
        SURVEY = "survey", "Survey"

    name = models.CharField(max_length=120, unique=True)
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.INBOUND)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def active_version(self) -> ScriptVersion | None:
        return self.versions.filter(state=ScriptVersion.State.ACTIVE).first()


class ScriptVersion(models.Model):
    """One numbered graph of a script; its graph never changes once submitted."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted for approval"
        APPROVED = "approved", "Approved"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    script = models.ForeignKey(Script, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    graph = models.JSONField(default=dict)
    digest = models.CharField(max_length=64, editable=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    major = models.BooleanField(
        default=False,
        help_text="A major change: when this version goes live, operators' certificates for the "
        "company are voided and they must pass its quiz again (R14).",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Platform staff (public schema): id and name as values.
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by_id = models.BigIntegerField(null=True, blank=True)
    approved_by_name = models.CharField(max_length=150, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejected_by_id = models.BigIntegerField(null=True, blank=True)
    rejected_by_name = models.CharField(max_length=150, blank=True)
    rejection_reason = models.TextField(blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by_name = models.CharField(max_length=150, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["script", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["script", "number"], name="script_version_number_unique"),
            models.UniqueConstraint(
                fields=["script"], condition=Q(state="active"), name="script_one_active_version"
            ),
            models.CheckConstraint(
                condition=Q(state__in=["draft", "submitted", "approved", "active", "retired"]),
                name="script_version_state_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.script.name} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.digest = graph_digest(self.graph)
        if kwargs.get("update_fields") is not None and "graph" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "digest"}
        super().save(*args, **kwargs)

    @property
    def editable(self) -> bool:
        return self.state == self.State.DRAFT

    @property
    def title(self) -> str:
        graph = self.graph if isinstance(self.graph, dict) else {}
        title = graph.get("title")
        return title if isinstance(title, str) and title else self.script.name


class ScriptSession(models.Model):
    """A run of one pinned version: a call (console or IVR) or a test-run in the portal."""

    class Kind(models.TextChoices):
        CALL = "call", "Call"
        TEST = "test", "Test-run"

    class State(models.TextChoices):
        OPEN = "open", "In progress"
        ENDED = "ended", "Ended"

    version = models.ForeignKey(ScriptVersion, on_delete=models.PROTECT, related_name="sessions")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN)
    contact = models.JSONField(default=dict, blank=True)
    answers = models.JSONField(default=dict, blank=True)
    seen = models.JSONField(default=list, blank=True)
    reopen = models.CharField(max_length=64, blank=True)
    rounds = models.JSONField(default=list, blank=True, help_text="Answers of earlier rounds of a loop.")
    current_node = models.CharField(max_length=64, blank=True)
    disposition = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    started_by_name = models.CharField(max_length=150, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["call", "test"]), name="script_session_kind_known"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk} on {self.version}"


class ScriptAnswer(models.Model):
    """Every answer as it was given, in order; later answers to the same node never erase it."""

    session = models.ForeignKey(ScriptSession, on_delete=models.CASCADE, related_name="answer_log")
    node_id = models.CharField(max_length=64)
    value = models.JSONField(null=True)
    raw = models.TextField(blank=True)
    answered_at = models.DateTimeField(auto_now_add=True)
    by_name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["answered_at", "pk"]
        indexes = [models.Index(fields=["session", "node_id"])]

    def __str__(self) -> str:
        return f"{self.node_id} = {self.value!r}"
