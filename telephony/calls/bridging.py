"""An accepted call reaches its operator: who took it (at accept), and its answer (when the
operator's leg joins the call's conference: ``telephony.conferences``)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

from accounts.models import User
from config.queries import one
from telephony.calls.models import Call
from telephony.calls.records import add_event
from telephony.routing_models import Reservation, WaitingCall


def operator_identity(user_id: int) -> str:
    """The operator's browser phone as Twilio knows it (the Voice SDK token carries the same)."""
    return f"operator-{user_id}"


def _accepted(waiting_call_id: int) -> tuple[WaitingCall, Reservation | None] | None:
    """The bridged call with its operator's user, read in the public schema (users live there and,
    by the same table name, in each company's schema: a webhook runs in the company's)."""
    with schema_context(get_public_schema_name()):
        waiting = one(
            WaitingCall.objects.select_related("tenant", "operator__user").filter(pk=waiting_call_id)
        )
    if waiting is None or waiting.operator is None or waiting.state != WaitingCall.State.BRIDGED:
        return None
    offered = (
        Reservation.objects.filter(call=waiting, operator=waiting.operator).order_by("-offered_at").first()
    )
    return waiting, offered


def record_accept(*, waiting: WaitingCall, reservation: Reservation, user: User) -> None:
    """Write who took the call into the tenant's call record as soon as the accept commits (the
    console's next step finds it); the call is not answered yet: that is the operator's join.
    ``waiting`` (with its company) and ``reservation``: the accepted call and offer as the accept
    wrote them, not read again."""
    with tenant_context(waiting.tenant):
        call = one(Call.objects.filter(call_sid=waiting.call_sid))
        if call is None:
            return
        with transaction.atomic():
            Call.objects.filter(pk=call.pk, answered_at__isnull=True).update(
                offered_at=reservation.offered_at,
                operator_id=user.pk,
                operator_name=user.get_full_name() or user.username,
            )
            add_event(call, "accepted", dedupe=f"accepted:{reservation.pk}", operator=user.username)


def record_answer(
    *, waiting_call_id: int, at: dt.datetime | None = None, call: Call | None = None
) -> tuple[WaitingCall, bool] | None:
    """The operator's leg joined: write who answered, and when, into the tenant's call record (once);
    ``(waiting call, newly answered?)``, None when the call is not bridged to an operator.
    ``call``: its record, when the caller has read it already (it is read otherwise).

    The wait runs from the call's place in line to this join; accept → join is kept on the
    ``bridged`` event (``answer_seconds``), the time the operator's phone took to connect."""
    accepted = _accepted(waiting_call_id)
    if accepted is None:
        return None
    waiting, offered = accepted
    user = waiting.operator.user
    answered = at or timezone.now()
    with tenant_context(waiting.tenant):
        if call is None:
            call = one(Call.objects.filter(call_sid=waiting.call_sid))
        if call is None:
            return None
        with transaction.atomic():
            new = Call.objects.filter(pk=call.pk, answered_at__isnull=True).update(
                answered_at=answered,
                offered_at=offered.offered_at if offered else answered,
                operator_id=user.pk,
                operator_name=user.get_full_name() or user.username,
                wait_seconds=max(0, round((answered - (call.queued_at or answered)).total_seconds())),
            )
            if new:
                WaitingCall.objects.filter(pk=waiting.pk).update(answered_at=answered)
                accepted_at = offered.closed_at if offered and offered.closed_at else answered
                add_event(call, "bridged", dedupe=f"bridged:{user.pk}", at=answered, operator=user.username,
                          answer_seconds=round((answered - accepted_at).total_seconds(), 3))  # fmt: skip
    return waiting, bool(new)
