"""An accepted call reaches its operator: who took it (at accept), and its answer (when the
operator's leg joins the call's conference: ``telephony.conferences``)."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from django.db import connection
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from accounts.models import User
from telephony.calls.models import Call
from telephony.calls.records import mark_accepted, mark_answered
from telephony.routing_models import Reservation, WaitingCall
from tenants.switching import company_context


def operator_identity(user_id: int) -> str:
    """The operator's browser phone as Twilio knows it (the Voice SDK token carries the same)."""
    return f"operator-{user_id}"


class Operator(NamedTuple):
    """Who answers, as the company's call record names them."""

    user_id: int
    username: str
    name: str

    @classmethod
    def of(cls, user: User) -> Operator:
        return cls(user.pk, user.username, user.get_full_name() or user.username)


def operator_named(user_id: int) -> Operator | None:
    """The operator as the platform's user table says now, in one statement from any schema: the
    table is named with its schema (a company's schema has a user table of its own, by the same
    name, and a webhook runs there), so the connection's search path is left as it is."""
    quote = connection.ops.quote_name
    table = f"{quote(get_public_schema_name())}.{quote(User._meta.db_table)}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, username, first_name, last_name FROM {table} WHERE id = %s",  # noqa: S608 (our table)
            [user_id],
        )
        row = cursor.fetchone()
    return Operator.of(User(pk=row[0], username=row[1], first_name=row[2], last_name=row[3])) if row else None


def record_accept(*, waiting: WaitingCall, reservation: Reservation) -> None:
    """Write who took the call into the tenant's call record as soon as the accept commits (the
    console's next step finds it); the call is not answered yet: that is the operator's join.
    ``waiting`` (with its company, and its operator with their user as the accept locked them:
    ``routing.accept``) and ``reservation``: the accepted call and offer as the accept wrote them,
    not read again."""
    operator = Operator.of(waiting.operator.user)
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
    operator = operator_named(waiting.operator.user_id)
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
