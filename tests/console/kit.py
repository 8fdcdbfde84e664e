"""A call offered to an operator, with the client company's script, contact and history (rolled back)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from django_tenants.utils import tenant_context

from scripts_engine import sessions
from telephony import routing
from telephony.calls.models import TelephonySettings
from telephony.models import OperatorProfile, Reservation
from tests.factories import CallbackFactory, CallFactory, ContactFactory
from tests.scripts_engine.conftest import active_script
from tests.telephony.helpers import make_operator, make_queue, sid


@dataclass
class Offered:
    tenant: object
    operator: OperatorProfile
    reservation: Reservation
    call_sid: str


def offer_call(tenant, capture, *, phone: str = "+14155550123", greeting: str = "Acme, hello!") -> Offered:
    """A contact with an earlier call and an open callback calls ``tenant``; one operator gets the offer."""
    version, _ = active_script(tenant)
    now = timezone.now()
    call_sid = sid()
    with tenant_context(tenant):
        settings = TelephonySettings.current()
        settings.greeting = greeting
        settings.save()
        contact = ContactFactory(phone=phone, company="Lee & Co")
        earlier = CallFactory(
            from_number=phone, to_number="+15550001", contact=contact,
            started_at=now - timezone.timedelta(days=2), disposition="resolved", outcome="handled",
            outcome_at=now, operator_name="Olga",
        )  # fmt: skip
        CallbackFactory(call=earlier, reason="requested", due_at=now)
        session = sessions.session_start(script=version.script, kind="call", contact=contact.as_fields())
        CallFactory(
            call_sid=call_sid, from_number=phone, to_number="+15550001", contact=contact, started_at=now,
            queued_at=now, script_session=session,
        )  # fmt: skip
    queue = make_queue(tenant)
    operator = make_operator({queue: 1})
    with capture(execute=True):
        routing.enqueue(tenant=tenant, queue=queue, call_sid=call_sid)
    reservation = Reservation.objects.get(call__call_sid=call_sid, state="offered")
    assert reservation.operator == operator
    return Offered(tenant=tenant, operator=operator, reservation=reservation, call_sid=call_sid)
