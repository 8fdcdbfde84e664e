"""A call connected to its operator through its conference (Twilio's REST to Prism, signed
callbacks), for the supervision and announcement tests."""

from __future__ import annotations

from dataclasses import dataclass

from django_tenants.utils import tenant_context

from accounts.models import Role
from telephony import tasks
from telephony.answering import accept_offer
from telephony.calls.models import Call
from telephony.models import Reservation, WaitingCall
from tests.conftest import make_user
from tests.telephony.calls_kit import incoming
from tests.telephony.conference_kit import conference_event
from tests.telephony.helpers import make_operator
from tests.twilio_kit import check_twiml

OPERATOR_LEG = "CA" + "7" * 32


@dataclass
class Connected:
    sid: str
    offer: Reservation
    waiting: WaitingCall
    callback: str  # the conference's status callback URL
    twiml: str  # the TwiML that moved the caller into the conference

    def call(self, tenant) -> Call:
        with tenant_context(tenant):
            return Call.objects.get(call_sid=self.sid)


def connect_call(tenant, number: str, queue, commit, http, *, join: bool = True) -> Connected:
    """Offer, accept and bridge a call; the caller and (``join``) the operator join its conference."""
    make_operator({queue: 1})
    with commit():
        _, params = incoming(number)
    sid = params["CallSid"]
    offer = Reservation.objects.get(call__call_sid=sid, state="offered")
    with commit():
        waiting = accept_offer(reservation_id=offer.pk, operator=offer.operator.user)
    with commit():
        tasks.bridge_call.apply(args=[waiting.pk])
    moved = next(s for s in http.sent if f"/Calls/{sid}.json" in s.url and not s.fault)
    callback = check_twiml(moved.data["Twiml"]).find("Dial/Conference").get("statusCallback")
    with commit():
        conference_event(callback, "participant-join", CallSid=sid, ParticipantLabel="caller")
    if join:
        with commit():
            conference_event(
                callback, "participant-join", CallSid=OPERATOR_LEG, ParticipantLabel=f"operator-{offer.pk}"
            )
    return Connected(sid=sid, offer=offer, waiting=waiting, callback=callback, twiml=moved.data["Twiml"])


def supervisor(**names: str):
    return make_user(
        None, role=Role.SUPERVISOR, first_name=names.get("first", "Sue"), last_name=names.get("last", "Visor")
    )
