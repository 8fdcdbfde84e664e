"""A client company's calls, their events, the contacts they matched, and callbacks (tenant schema)."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from tenants.phones import E164_PATTERN as E164


class Contact(models.Model):
    """A caller or callee of this client company: the screen pop's card (R19)."""

    phone = models.CharField(max_length=16, unique=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    company = models.CharField(max_length=200, blank=True)
    language = models.CharField(max_length=16, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    vip = models.BooleanField(default=False, help_text="VIP callers go first in the queue.")
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "phone"]
        constraints = [models.CheckConstraint(condition=Q(phone__regex=E164), name="contact_phone_e164")]

    def __str__(self) -> str:
        return self.name or self.phone

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def as_fields(self) -> dict[str, str]:
        """The contact fields a script may use (``{{contact.first_name}}``)."""
        return {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "name": self.name,
            "phone": self.phone,
            "email": self.email,
            "company": self.company,
        }


class Call(models.Model):
    """One call, inbound or outbound, from its first webhook to its single outcome."""

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"

    class Status(models.TextChoices):
        # Twilio's call statuses, in the order a call moves through them.
        QUEUED = "queued", "Queued"
        RINGING = "ringing", "Ringing"
        IN_PROGRESS = "in-progress", "In progress"
        COMPLETED = "completed", "Completed"
        BUSY = "busy", "Busy"
        NO_ANSWER = "no-answer", "No answer"
        CANCELED = "canceled", "Canceled"
        FAILED = "failed", "Failed"

    class Outcome(models.TextChoices):
        HANDLED = "handled", "Handled by an operator"
        COMPLETED_IN_IVR = "completed_in_ivr", "Completed in the IVR"
        VOICEMAIL = "voicemail", "Voicemail"
        CALLBACK_REQUESTED = "callback_requested", "Callback requested"
        ABANDONED = "abandoned", "Abandoned"
        FAILED = "failed", "Failed"
        TRANSFERRED = "transferred", "Transferred to a specialist"

    # Unique by a constraint, not ``unique=True``: that would add a LIKE index nothing uses, one
    # more index written for every call.
    call_sid = models.CharField(max_length=64)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    # Caller IDs as Twilio sends them, of any length: E.164, "anonymous", SIP URIs, "client:…".
    from_number = models.TextField()
    to_number = models.TextField()
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RINGING)
    queue_id = models.IntegerField(null=True, blank=True, help_text="The platform queue (public schema).")
    queue_name = models.CharField(max_length=80, blank=True)
    script_session = models.OneToOneField(
        "scripts_engine.ScriptSession", null=True, blank=True, on_delete=models.PROTECT, related_name="call"
    )
    started_at = models.DateTimeField()
    placed_at = models.DateTimeField(
        null=True, blank=True, help_text="Outbound: when Twilio took the call (gave it its CallSid)."
    )
    ivr_started_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    offered_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    wrapup_ended_at = models.DateTimeField(null=True, blank=True)
    wait_seconds = models.PositiveIntegerField(null=True, blank=True)
    talk_seconds = models.PositiveIntegerField(null=True, blank=True)
    hold_seconds = models.PositiveIntegerField(default=0)
    wrapup_seconds = models.PositiveIntegerField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True, help_text="Twilio's CallDuration.")
    operator_id = models.IntegerField(null=True, blank=True, help_text="Platform user id (public schema).")
    operator_name = models.CharField(max_length=150, blank=True)
    disposition = models.CharField(max_length=64, blank=True)
    transferred_to = models.CharField(max_length=64, blank=True)
    recording_sid = models.CharField(max_length=64, blank=True)
    recording_url = models.URLField(blank=True)
    recording_seconds = models.PositiveIntegerField(null=True, blank=True)
    recording_key = models.CharField(
        max_length=255,
        blank=True,
        help_text="Where the audio is kept: recordings/<schema>/<call>/<recording>.mp3.",
    )
    outcome = models.CharField(max_length=24, choices=Outcome.choices, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)
    after_hours = models.BooleanField(default=False)
    # A try to call a caller back: its callback, whichever kind (one that kept the caller's place,
    # ``telephony.calls.callback_tries``, or one the outbound dialer serves). Indexed only where
    # set (most calls are not tries).
    try_of = models.ForeignKey(
        "Callback", null=True, blank=True, on_delete=models.SET_NULL, related_name="tries", db_index=False
    )
    place_keeping_try = models.BooleanField(
        default=False,
        help_text="A try of a callback that kept the caller's place (telephony.callback_dial), "
        "not a call of the outbound dialer.",
    )

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["started_at"]),
            models.Index(fields=["outcome", "started_at"]),
            models.Index(fields=["from_number"]),
            models.Index(fields=["try_of"], condition=Q(try_of__isnull=False), name="call_try_of"),
            # The calls not ended: the reconciliation's (``telephony.reconcile``), without a scan.
            models.Index(fields=["started_at"], condition=Q(ended_at__isnull=True), name="call_not_ended"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome="") | Q(outcome_at__isnull=False), name="call_outcome_has_time"
            ),
            models.UniqueConstraint(fields=["call_sid"], name="call_call_sid_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.from_number} → {self.to_number} ({self.call_sid})"


class CallEvent(models.Model):
    """Everything that happened to a call, in order (R9, R16, R26).

    ``dedupe_key`` makes a replayed webhook a no-op: Twilio signs no timestamp, so the same
    request can arrive twice and must not be recorded twice.
    """

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=40)
    data = models.JSONField(default=dict, blank=True)
    # Unique (see Meta); NULL for the events that need no dedupe, which never collide.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001

    class Meta:
        ordering = ["at", "pk"]
        # A constraint rather than ``unique=True``, which would add a LIKE index nothing uses.
        constraints = [models.UniqueConstraint(fields=["dedupe_key"], name="call_event_dedupe_unique")]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%H:%M:%S}"


class Callback(models.Model):
    """A call back owed to a caller: asked for in the queue, or an abandoned call in business hours."""

    class Reason(models.TextChoices):
        REQUESTED = "requested", "Requested by the caller"
        ABANDONED = "abandoned", "Abandoned in the queue"
        AFTER_HOURS = "after_hours", "Called after hours"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        IN_LINE = "in_line", "In line (the caller's place kept)"
        DIALING = "dialing", "Dialing"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="callback")
    phone = models.TextField(help_text="The caller ID as Twilio sent it (a SIP URI may be long).")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    queue_id = models.IntegerField(null=True, blank=True)
    priority = models.PositiveSmallIntegerField(default=5)
    due_at = models.DateTimeField()
    state = models.CharField(max_length=12, choices=State.choices, default=State.OPEN)
    attempts = models.PositiveSmallIntegerField(default=0)
    keeps_place = models.BooleanField(
        default=False,
        help_text="Waits in the queue at the caller's place and is called back when its turn comes "
        "(telephony.callback_dial), not by the outbound dialer.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["state", "-priority", "due_at"]

    def __str__(self) -> str:
        return f"callback {self.phone} ({self.get_reason_display()})"


class TelephonySettings(models.Model):
    """How this client company's calls sound and when they are served (one row per tenant)."""

    class AfterHours(models.TextChoices):
        VOICEMAIL = "voicemail", "Play the message, then take a voicemail"
        CALLBACK = "callback", "Play the message and book a callback"
        QUEUE = "queue", "Queue the call anyway"

    greeting = models.CharField(max_length=500, default="Thank you for calling.")
    language = models.CharField(max_length=16, default="en-US")
    voice = models.CharField(max_length=40, default="alice")
    hold_music_url = models.URLField(
        default="http://com.twilio.sounds.music.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3"
    )
    hold_music_seconds = models.PositiveSmallIntegerField(
        default=60,
        validators=[MinValueValidator(5), MaxValueValidator(3600)],
        help_text="How long the hold music file plays, in seconds (it is looped to fill the period).",
    )
    wait_announcement_seconds = models.PositiveSmallIntegerField(
        default=60,
        validators=[MinValueValidator(20), MaxValueValidator(600)],
        help_text="Waiting callers hear their place and the expected wait about this often (seconds).",
    )
    timezone = models.CharField(max_length=64, default="UTC")
    statistics_zone = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text="The zone the statistics rows were last built in (empty: none built yet). Another zone "
        "than ``timezone``: the next build rebuilds them all (``reporting.stats``).",
    )
    business_hours = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per weekday 0-6 (Monday = 0): [["09:00", "18:00"], …]. Empty: open 24/7.',
    )
    holidays = models.JSONField(default=list, blank=True, help_text='Closed dates: ["2026-12-25", …].')
    after_hours_message = models.CharField(
        max_length=500, default="We are closed now. Please leave a message after the tone."
    )
    after_hours = models.CharField(max_length=12, choices=AfterHours.choices, default=AfterHours.VOICEMAIL)
    record_calls = models.BooleanField(default=False, help_text="Bought the call recording service (R21).")
    scheduled = models.JSONField(
        default=list,
        blank=True,
        help_text='Changes taking effect from a date (company time): [{"from": "2026-07-01", "changes": '
        '{"business_hours": …}}, …], sorted by date; see telephony.calls.hours.in_force.',
    )
    short_abandon_seconds = models.PositiveSmallIntegerField(default=5)
    operator_announcement = models.CharField(
        max_length=200,
        blank=True,
        help_text="What the operator hears before your caller is put through (only the operator hears "
        "it). Empty: your company's name and the queue's, e.g. “Acme, support”.",
    )

    class Meta:
        verbose_name_plural = "telephony settings"

    def __str__(self) -> str:
        return "Telephony settings"

    @classmethod
    def current(cls) -> TelephonySettings:
        settings, _ = cls.objects.get_or_create(pk=1)
        return settings


class WebhookEvidence(models.Model):
    """A Twilio webhook exactly as received, once its signature was checked (issue 18: the evidence
    behind every invoice line). Kept once per idempotency key; read by ``telephony.evidence``."""

    received_at = models.DateTimeField()
    call_sid = models.CharField(max_length=64, blank=True)
    url = models.TextField(help_text="The URL Twilio signed (query string included).")
    params = models.JSONField(default=dict, help_text="Every POSTed parameter, as received.")
    signature = models.CharField(max_length=128, help_text="X-Twilio-Signature, checked valid.")
    idempotency_key = models.CharField(
        max_length=128, help_text="Twilio's I-Twilio-Idempotency-Token, else a hash of URL and parameters."
    )

    class Meta:
        ordering = ["received_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["idempotency_key"], name="webhook_evidence_once")]
        indexes = [
            models.Index(fields=["call_sid", "received_at"], name="calls_webho_call_si_idx"),
            models.Index(fields=["received_at"], name="calls_webho_receive_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.url} at {self.received_at:%Y-%m-%d %H:%M:%S}"


class RecordingAccess(models.Model):
    """Who heard what (R21): every play, download and deletion of a call's recording, kept in the
    company's own schema whoever did it (its staff, the platform's staff, an API key, the retention
    task), with when and from where. Rows are only ever added."""

    class Action(models.TextChoices):
        PLAY = "play", "Played"
        DOWNLOAD = "download", "Downloaded"
        DELETE = "delete", "Deleted (retention)"

    class Surface(models.TextChoices):
        PORTAL = "portal", "Client portal"
        QUALITY = "quality", "Platform quality pages (platform staff)"
        API = "api", "API"
        RETENTION = "retention", "Retention task"

    call = models.ForeignKey(Call, null=True, on_delete=models.SET_NULL, related_name="recording_accesses")
    call_sid = models.CharField(max_length=64)
    recording_sid = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField()
    action = models.CharField(max_length=8, choices=Action.choices)
    surface = models.CharField(max_length=12, choices=Surface.choices)
    platform_staff = models.BooleanField(default=False, help_text="Done by the platform's staff.")
    user_id = models.IntegerField(null=True, blank=True, help_text="In the schema of the user's kind.")
    username = models.CharField(max_length=150, blank=True, help_text="Or the API key's name.")
    name = models.CharField(max_length=150, blank=True, help_text="The person's full name at the time.")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["at"]), models.Index(fields=["call", "at"])]

    def __str__(self) -> str:
        return f"{self.action} of {self.call_sid} by {self.username or 'system'} at {self.at:%Y-%m-%d %H:%M}"
