"""An operator answers an offered call: the router's accept, then the bridge once it commits.

Above the router and the call records (it enqueues a Celery task, so ``telephony.tasks`` never
imports it): the console and the simulator accept offers through ``accept_offer``.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from accounts.models import User
from config.celery import send_after_commit
from telephony import conferences, routing, tasks
from telephony.calls.bridging import record_accept
from telephony.routing_models import WaitingCall

NOT_SENT = "the platform could not connect it"


def accept_offer(*, reservation_id: int, operator: User, now: dt.datetime | None = None) -> WaitingCall:
    """``routing.accept``; once it commits, who took the call is written in the tenant's call record
    (so the console's next step finds it) and a worker connects them through the call's conference
    (Twilio's REST API: never inside the accept). The call is answered when the operator joins."""
    # The accept's own transaction: an offer past its deadline is expired (and stays so) even though
    # its accept is refused.
    accepted = routing.accept(reservation_id=reservation_id, operator=operator, now=now)
    transaction.on_commit(lambda: _accepted(accepted))
    return accepted.call


def _accepted(accepted: routing.Accepted) -> None:
    """A callback keeping the caller's place is dialled back (``callback_dial``); a caller on the
    line is moved into the call's conference."""
    call = accepted.call
    record_accept(waiting=call, reservation=accepted.reservation)
    connect(call.pk, dial_back=call.kind == WaitingCall.Kind.CALLBACK)


def connect(waiting_call_id: int, *, dial_back: bool = False) -> bool:
    """Send the task that connects an accepted call: ``bridge_call``, or ``dial_back`` to call back
    the caller of a place-keeping callback (then ``bridge_call`` once they answer).

    If it cannot be sent (the broker away past every retry: ``send_after_commit``), nobody would
    ever connect the call: the attempt fails here as it does when Twilio stays unavailable, and the
    call goes back in line (another operator first; not counted against this one). A callback
    keeping its place loses none of its tries: nobody was dialled."""
    task = tasks.dial_back if dial_back else tasks.bridge_call
    if send_after_commit(task, waiting_call_id):
        return True
    conferences.give_up(waiting_call_id=waiting_call_id, reason=NOT_SENT)
    return False
