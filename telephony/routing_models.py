"""The router's live state, in the public schema (operators are shared by every client company).

Imported by ``telephony.models``; kept apart so the number pool stays readable.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce


class OperatorState(models.TextChoices):
    OFFLINE = "offline", "Offline"
    AVAILABLE = "available", "Available"
    RESERVED = "reserved", "Reserved (an offer is ringing)"
    ON_CALL = "on_call", "On a call"
    WRAP_UP = "wrap_up", "Wrap-up"
    BREAK = "break", "Break"


class OperatorProfile(models.Model):
    """An operator's routing state (R15, R16): one per platform user with the operator role."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator_profile"
    )
    state = models.CharField(max_length=16, choices=OperatorState.choices, default=OperatorState.OFFLINE)
    break_reason = models.CharField(max_length=40, blank=True)
    state_since = models.DateTimeField()
    idle_since = models.DateTimeField(help_text="Fairness: the longest idle operator of a tier goes first.")
    missed_offers = models.PositiveIntegerField(default=0, help_text="Consecutive offers not answered.")
    languages = ArrayField(models.CharField(max_length=8), default=list, blank=True)
    consoles = models.PositiveIntegerField(
        default=0, help_text="Open console sockets; the last to close = offline."
    )

    class Meta:
        indexes = [models.Index(fields=["state"], name="operator_profile_state")]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=OperatorState.values), name="operator_state_known"),
            models.CheckConstraint(
                condition=Q(state="break") | Q(break_reason=""), name="operator_break_reason_only_on_break"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.state})"


def certified_skills(now: object) -> Q:
    """The skills the router may use at ``now``: certified for the queue's company until later (R14).

    The router's SQL says the same with ``s.certified_until > now()``; expiry takes effect by date,
    without a task."""
    return Q(certified_until__gt=now)


class Skill(models.Model):
    """An operator may take a queue's calls; tier 1 is the best (R11, R14, R20).

    ``certified_until`` is the operator's certificate for the queue's company
    (``operations.certification``): empty (never certified, voided, revoked) or past, the router
    never uses the skill."""

    operator = models.ForeignKey(OperatorProfile, on_delete=models.CASCADE, related_name="skills")
    queue = models.ForeignKey("telephony.Queue", on_delete=models.CASCADE, related_name="skills")
    tier = models.PositiveSmallIntegerField(default=1)
    languages = ArrayField(
        models.CharField(max_length=8), default=list, blank=True, help_text="Empty: the operator's own."
    )
    certified_until = models.DateTimeField(
        null=True, blank=True, help_text="The certificate for the queue's company; empty: locked."
    )

    class Meta:
        ordering = ["queue", "tier"]
        constraints = [
            models.UniqueConstraint(fields=["operator", "queue"], name="skill_one_per_operator_queue"),
            models.CheckConstraint(condition=Q(tier__gte=1) & Q(tier__lte=9), name="skill_tier_1_to_9"),
        ]

    def __str__(self) -> str:
        return f"{self.operator_id} → {self.queue_id} (tier {self.tier})"


class OperatorEvent(models.Model):
    """Every state change and action of an operator, with its time (R15, R16)."""

    operator = models.ForeignKey(OperatorProfile, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=32)  # state, offered, accepted, rejected, expired, cancelled…
    state = models.CharField(max_length=16, blank=True, help_text="The state after the event.")
    reason = models.CharField(max_length=80, blank=True)
    call_sid = models.CharField(max_length=64, blank=True)
    tenant_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["operator", "at"], name="operator_event_by_time")]

    def __str__(self) -> str:
        return f"{self.operator_id} {self.kind} at {self.at:%H:%M:%S}"


# A call taken out of line to be moved out of its conference (``telephony.conference_exits``), Twilio
# not asked successfully yet: its outcome is this, then the reason.
EXITING = "exiting: "
EXITING_NOW = Q(state="left", outcome__startswith=EXITING)


class WaitingCall(models.Model):
    """A call waiting in a queue (one row per CallSid); its ``enqueued_at`` is its place in line."""

    class State(models.TextChoices):
        WAITING = "waiting", "Waiting"
        RESERVED = "reserved", "Offered to an operator"
        BRIDGED = "bridged", "Bridged to an operator"
        LEFT = "left", "Left the queue"
        DEFERRED = "deferred", "A callback waiting for its next try (``due_at``), its place kept"

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"  # the dialer's: bridged from the start, never offered

    class Kind(models.TextChoices):
        CALL = "call", "A caller on the line"
        # The caller hung up and is called back when the call's turn comes (``routing.callbacks``):
        # ``call_sid`` is then the call record of the next try to reach them.
        CALLBACK = "callback", "A callback keeping the caller's place"

    tenant = models.ForeignKey("tenants.Client", on_delete=models.PROTECT, related_name="waiting_calls")
    # No index of its own: ``waiting_call_queue_state`` (queue, state) serves lookups by queue.
    queue = models.ForeignKey(
        "telephony.Queue", on_delete=models.PROTECT, related_name="waiting_calls", db_index=False
    )
    call_sid = models.CharField(max_length=64, unique=True)
    priority = models.SmallIntegerField(default=0, help_text="Higher first (VIP contacts, callbacks).")
    language = models.CharField(max_length=8, blank=True)
    enqueued_at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.WAITING)
    answered_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=32, blank=True)
    operator = models.ForeignKey(
        OperatorProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="answered_calls"
    )
    reservation_count = models.PositiveIntegerField(default=0)
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.INBOUND)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.CALL, db_default=Kind.CALL)
    due_at = models.DateTimeField(null=True, blank=True, help_text="A deferred callback's next try.")

    class Meta:
        ordering = ["-priority", "enqueued_at", "id"]
        indexes = [
            models.Index(fields=["queue", "state"], name="waiting_call_queue_state"),
            models.Index(
                fields=["queue", "answered_at"],
                condition=Q(answered_at__isnull=False),
                name="waiting_call_answered",
            ),
            # The router's sliding window of service level (``routing.standing``): calls by when
            # they left the line, answered or not.
            models.Index(Coalesce("answered_at", "left_at"), name="waiting_call_out_of_line"),
            # The queues with calls waiting (a match's scope) without reading the calls that left.
            models.Index(fields=["queue"], condition=Q(state="waiting"), name="waiting_call_waiting"),
            # The routing tick's look for calls still to move out of their conference (a few).
            models.Index(fields=["id"], condition=EXITING_NOW, name="waiting_call_exiting"),
            # Is a call still bridged to the operator (an operator freed): without reading every
            # call they ever answered (rows are kept).
            models.Index(fields=["operator"], condition=Q(state="bridged"), name="waiting_call_bridged"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["waiting", "reserved", "bridged", "left", "deferred"]),
                name="waiting_call_state",
            ),
            models.CheckConstraint(
                condition=~Q(state="bridged") | Q(answered_at__isnull=False, operator__isnull=False),
                name="waiting_call_bridged_has_operator",
            ),
            models.CheckConstraint(
                condition=~Q(state="deferred") | Q(kind="callback", due_at__isnull=False),
                name="waiting_call_deferred_is_a_callback",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.call_sid} ({self.state})"


LIVE_RESERVATION = Q(state__in=["offered", "accepted"])


class Reservation(models.Model):
    """A waiting call offered to one operator; at most one live per call and per operator (DB-enforced)."""

    class State(models.TextChoices):
        OFFERED = "offered", "Offered"
        ACCEPTED = "accepted", "Accepted (the call is the operator's)"
        COMPLETED = "completed", "Completed (the call ended)"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Not answered in time"
        CANCELLED = "cancelled", "Cancelled"

    call = models.ForeignKey(WaitingCall, on_delete=models.CASCADE, related_name="reservations")
    operator = models.ForeignKey(OperatorProfile, on_delete=models.CASCADE, related_name="reservations")
    offered_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.OFFERED)
    closed_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=80, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["expires_at"], condition=Q(state="offered"), name="reservation_offered_expiry"
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["call"], condition=LIVE_RESERVATION, name="reservation_one_live_per_call"
            ),
            models.UniqueConstraint(
                fields=["operator"], condition=LIVE_RESERVATION, name="reservation_one_live_per_operator"
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("offered_at")), name="reservation_expires_later"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.call_id} → {self.operator_id} ({self.state})"


class OutboundWork(models.Model):
    """A client company's queue that may have outbound work (a running campaign, callbacks due),
    and from when: the dialer's index, in public, so that a pass finds the companies with work
    without looking into every company's schema (issue 23).

    Written when work appears (a campaign started or resumed, a list loaded into a running one, a
    callback booked or due again: ``outbound.work``); the dialer moves ``due_at`` on, or drops the
    row, when it finds nothing there. ``marked_at`` guards that: a pass that began before the last
    announcement never drops or postpones the row."""

    tenant = models.ForeignKey("tenants.Client", on_delete=models.CASCADE, related_name="outbound_work")
    queue = models.OneToOneField("telephony.Queue", on_delete=models.CASCADE, related_name="outbound_work")
    due_at = models.DateTimeField()
    marked_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["due_at"], name="outbound_work_due")]

    def __str__(self) -> str:
        return f"outbound work in queue {self.queue_id} from {self.due_at:%H:%M:%S}"
