"""An accepted call reaches its operator: who took it (at accept), and its answer (when the
operator's leg joins the call's conference: ``telephony.conferences``)."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from django.utils import timezone

from accounts.models import User
from config.process_cache import ProcessCache
from config.queries import one
from telephony.calls.models import Call
from telephony.calls.records import mark_accepted, mark_answered
from telephony.routing_models import Reservation, WaitingCall
from tenants.switching import company_context, public_context


def operator_identity(user_id: int) -> str:
    """The operator's browser phone as Twilio knows it (the Voice SDK token carries the same)."""
    return f"operator-{user_id}"


class Operator(NamedTuple):
    """Who answers, as the company's call record names them."""

    user_id: int
    username: str
    name: str


def _operator(user_id: int) -> Operator | None:
    """The operator's user, read in the public schema (users live there and, by the same table
    name, in each company's schema: a webhook runs in the company's)."""
    with public_context():
        user = one(User.objects.filter(pk=user_id))
    return Operator(user.pk, user.username, user.get_full_name() or user.username) if user else None


# Every answer names its operator: kept 10 minutes in each process (a save drops it in this one;
# another process names a renamed operator anew within that).
OPERATORS: ProcessCache[int, Operator | None] = ProcessCache(
    ttl=600.0, load_one=_operator
).invalidate_on_save(User)


def record_accept(*, waiting: WaitingCall, reservation: Reservation, user: User) -> None:
    """Write who took the call into the tenant's call record as soon as the accept commits (the
    console's next step finds it); the call is not answered yet: that is the operator's join.
    ``waiting`` (with its company) and ``reservation``: the accepted call and offer as the accept
    wrote them, not read again."""
    operator = OPERATORS.get(user.pk)  # as the user table says (the console's user is the socket's)
    if operator is None:
        return
    with company_context(waiting.tenant):
        mark_accepted(
            waiting.call_sid,
            reservation_id=reservation.pk,
            offered_at=reservation.offered_at,
            operator_id=operator.user_id,
            operator_name=operator.name,
            operator=operator.username,
        )


def record_answer(
    *, waiting: WaitingCall, reservation: Reservation, call: Call, at: dt.datetime | None = None
) -> bool:
    """The operator's leg joined: write who answered, and when, into the company's call record
    (once, in its schema); True when newly answered. ``waiting`` (with its operator) and
    ``reservation``: the call bridged to them and the offer they accepted, as the join read them.

    The wait runs from the call's place in line to this join; accept → join is kept on the
    ``bridged`` event (``answer_seconds``), the time the operator's phone took to connect."""
    operator = OPERATORS.get(waiting.operator.user_id)
    if operator is None:
        return False
    answered = at or timezone.now()
    accepted_at = reservation.closed_at or answered
    with company_context(waiting.tenant):
        return mark_answered(
            call,
            waiting_id=waiting.pk,
            at=answered,
            offered_at=reservation.offered_at,
            operator_id=operator.user_id,
            operator_name=operator.name,
            operator=operator.username,
            answer_seconds=round((answered - accepted_at).total_seconds(), 3),
        )
