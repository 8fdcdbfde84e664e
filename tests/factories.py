"""factory_boy factories for call records (tenant schema) and the router's rows (public schema).

The tenant-schema factories (``CallFactory``, ``CallEventFactory``, ``ContactFactory``,
``CallbackFactory``) write in whatever schema is current: call them inside
``tenant_context(tenant)``, as the tests always have. They never switch schemas themselves.

``CallFactory`` builds an inbound call with a unique CallSid; ``outcome_at`` follows ``started_at``
by a minute when an outcome is given. Traits build the calls the reports count:

- ``answered``: queued at start, answered after ``wait`` seconds, talked ``talk`` seconds, handled
  by Olga Operator;
- ``abandoned``: queued at start, hung up after ``wait`` seconds (45 unless told);
- ``short_abandoned``: abandoned within the 5 s short-abandon threshold (``wait`` = 3);
- ``ivr_contained``: entered the IVR at start and completed there, never queued;
- ``outbound``: placed by the dialer from the company's number to the contact;
- ``recorded``: with a Twilio recording of ``recording_seconds`` seconds.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import factory
from django.conf import settings
from django.db import connection
from django.utils import timezone
from factory.django import DjangoModelFactory

from outbound import work
from telephony.calls.models import Call, Callback, CallEvent, Contact
from telephony.models import Queue
from telephony.routing_models import WaitingCall

_phones = itertools.count(1)


def call_sid() -> str:
    """A CallSid no other test uses (committed tests share the database)."""
    return "CA" + uuid.uuid4().hex


def e164() -> str:
    """A US number in E.164 no other factory call has returned."""
    return f"+1555{next(_phones) % 10**7:07d}"


def _seconds(seconds: float) -> dt.timedelta:
    return dt.timedelta(seconds=seconds)


class ContactFactory(DjangoModelFactory):
    class Meta:
        model = Contact

    phone = factory.LazyFunction(e164)
    first_name = "Ann"
    last_name = "Lee"


class CallFactory(DjangoModelFactory):
    class Meta:
        model = Call

    class Params:
        wait = 10  # seconds in the queue (answered / abandoned traits)
        talk = 60  # seconds talking (answered trait)
        answered = factory.Trait(
            queued_at=factory.SelfAttribute("started_at"),
            answered_at=factory.LazyAttribute(lambda o: o.started_at + _seconds(o.wait)),
            wait_seconds=factory.SelfAttribute("wait"),
            talk_seconds=factory.SelfAttribute("talk"),
            outcome=Call.Outcome.HANDLED,
            operator_id=7,
            operator_name="Olga Operator",
        )
        abandoned = factory.Trait(
            queued_at=factory.SelfAttribute("started_at"),
            wait_seconds=factory.SelfAttribute("wait"),
            outcome=Call.Outcome.ABANDONED,
            wait=45,
        )
        short_abandoned = factory.Trait(
            queued_at=factory.SelfAttribute("started_at"),
            wait_seconds=factory.SelfAttribute("wait"),
            outcome=Call.Outcome.ABANDONED,
            wait=3,
        )
        ivr_contained = factory.Trait(
            ivr_started_at=factory.SelfAttribute("started_at"),
            outcome=Call.Outcome.COMPLETED_IN_IVR,
        )
        outbound = factory.Trait(
            direction=Call.Direction.OUTBOUND,
            from_number="+15550199001",
            to_number=factory.LazyFunction(e164),
            placed_at=factory.SelfAttribute("started_at"),
        )
        recorded = factory.Trait(
            recording_sid=factory.LazyFunction(lambda: "RE" + uuid.uuid4().hex),
            recording_url=factory.LazyAttribute(
                lambda o: (
                    f"https://api.twilio.com/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}"
                    f"/Recordings/{o.recording_sid}"
                )
            ),
            recording_seconds=42,
        )

    call_sid = factory.LazyFunction(call_sid)
    direction = Call.Direction.INBOUND
    from_number = "+15550100100"
    to_number = "+15550199001"
    started_at = factory.LazyFunction(timezone.now)
    outcome = ""
    outcome_at = factory.LazyAttribute(
        lambda o: o.started_at + dt.timedelta(minutes=1) if o.outcome else None
    )


class CallEventFactory(DjangoModelFactory):
    class Meta:
        model = CallEvent

    call = factory.SubFactory(CallFactory)
    at = factory.SelfAttribute("call.started_at")
    kind = "queued"
    data = factory.LazyFunction(dict)


class CallbackFactory(DjangoModelFactory):
    """An open callback for the caller of ``call`` (an abandoned call unless given one)."""

    class Meta:
        model = Callback
        skip_postgeneration_save = True

    call = factory.SubFactory(CallFactory, abandoned=True)
    phone = factory.SelfAttribute("call.from_number")
    reason = Callback.Reason.ABANDONED
    queue_id = factory.SelfAttribute("call.queue_id")
    due_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def announced(obj, create, extracted, **kwargs):
        """The dialer's index notes its queue, as ``records.book_callback`` has it done."""
        if create:
            work.mark_work(tenant=connection.tenant, queue_id=obj.queue_id, due_at=obj.due_at)


# The router's rows live in the public schema: call these there (where each test starts).


class QueueFactory(DjangoModelFactory):
    class Meta:
        model = Queue

    name = factory.LazyFunction(lambda: f"q-{uuid.uuid4().hex[:8]}")
    overflow_after = 0


class WaitingCallFactory(DjangoModelFactory):
    """A call in ``queue``'s line; ``state`` follows from ``answered_at`` / ``left_at`` unless given."""

    class Meta:
        model = WaitingCall

    queue = factory.SubFactory(QueueFactory)
    tenant = factory.SelfAttribute("queue.tenant")
    call_sid = factory.LazyFunction(call_sid)
    enqueued_at = factory.LazyFunction(timezone.now)
    state = factory.LazyAttribute(
        lambda o: (
            WaitingCall.State.LEFT
            if o.left_at is not None
            else (WaitingCall.State.BRIDGED if o.answered_at is not None else WaitingCall.State.WAITING)
        )
    )
    answered_at = None
    left_at = None
