"""The operator's console socket: offers pushed by the router, answers sent back (R15, R16, R19).

``/ws/operator/`` on the PLATFORM host only, for authenticated users with the operator role
(anyone else: closed with 4403). Each socket joins ``operator.<user id>``, derived from its own
session: there is no way to subscribe to another operator's group. The database is the truth and
the channel layer is at-most-once, so on connect the console gets the current state and any
ringing offer, and should reconnect (and re-read) whenever the socket drops. The layer is Redis
publish/subscribe: a push published while the process's subscription is down is lost while the
socket stays open, so the floor's canary (``console.floor.Canary``) notices and the socket is sent
``resync`` and everything again.

Server → console (JSON, ``type`` first):
- ``{"type": "state", "state": "offline|available|reserved|on_call|wrap_up|break", "reason": ""}``
- ``{"type": "offer", "reservation": id, "tenant": name, "queue": name, "call_sid": sid,
  "waited": seconds, "expires_at": ISO 8601}``
- ``{"type": "offer_cancelled", "reservation": id, "reason": "no answer|rejected|abandoned|…"}``
- ``{"type": "accepted", "reservation": id, "call_sid": sid}`` (the bridge follows)
- ``{"type": "error", "error": text, "request": the message's type}``
- ``{"type": "resync"}``: a push to this socket may have been lost (the channel layer's Redis was
  away); the state and any ringing offer follow, as on connect, and a console that shows more (the
  web console: missed offers, the call) reads it again

Console → server:
- ``{"type": "set_state", "state": "available|break|wrap_up|offline", "reason": "lunch"}``
- ``{"type": "accept", "reservation": id}``
- ``{"type": "reject", "reservation": id}``

Presence is by heartbeat (``telephony.console_presence``, issue 22), not by counting sockets: each
socket takes a seat on its web process's floor (``console.floor``), which beats every seat every
few seconds in one round trip; closing the operator's last live socket sets them offline (not on a
call or in wrap-up: a reload must find the call) and a ringing offer is re-routed; a socket that
never said goodbye (a crashed server, a Redis outage) stops beating and the sweep sets its operator
offline. The floor also expires an offer a socket was sent once it is past its deadline, and looks
now and then for every operator's overdue offer (one whose push was lost), so offers expire even
while no Celery worker runs.
"""

from __future__ import annotations

import contextlib
from typing import Any

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.permissions import OPERATORS
from console.floor import Seat, floor
from telephony import console_presence, routing
from telephony.answering import accept_offer
from telephony.operators import InvalidTransition, profile_for
from telephony.pushes import operator_group
from telephony.routing import profile_set_state
from telephony.routing.offers import offer_message
from telephony.routing_models import OperatorProfile, OperatorState, Reservation
from tenants.sockets import InTenantOnly, in_tenant


def _open(user) -> tuple[int, list[dict[str, Any]]]:
    """The operator's profile id and what the console must show now: the state, and a ringing offer
    (one past its deadline is expired first: nobody else may have looked)."""
    profile = profile_for(user)
    if routing.expire_reservations(operator_id=profile.pk):
        profile.refresh_from_db()
    messages: list[dict[str, Any]] = [
        {"type": "state", "state": profile.state, "reason": profile.break_reason}
    ]
    offer = (
        Reservation.objects.select_related("call__queue__tenant")
        .filter(operator=profile, state=Reservation.State.OFFERED)
        .first()
    )
    if offer is not None:
        call = offer.call
        messages.append(
            offer_message(
                reservation=offer,
                call_sid=call.call_sid,
                enqueued_at=call.enqueued_at,
                queue=call.queue.name,
                tenant=call.queue.tenant.name,
            )
        )
    return profile.pk, messages


def _close(user_id: int) -> None:
    """The operator's last live console closed: offline (R16), unless on a call or in wrap-up."""
    profile = OperatorProfile.objects.filter(user_id=user_id).first()
    if profile is None:
        return
    # On a call or in wrap-up the call stays theirs: a reload must find it (a supervisor can log
    # out a forgotten session; the presence sweep ends a forgotten wrap-up).
    keeps = {OperatorState.OFFLINE, OperatorState.ON_CALL, OperatorState.WRAP_UP}
    if profile.state not in keeps:
        with contextlib.suppress(InvalidTransition):  # moved meanwhile (accepted): the sweep sees it
            profile_set_state(profile_id=profile.pk, state=OperatorState.OFFLINE, reason="disconnected")


def _handle(user, profile_id: int, content: dict[str, Any]) -> dict[str, Any] | None:
    """One message of the console of ``user``, an operator whose routing profile is ``profile_id``
    (made when the socket connected)."""
    kind = content.get("type")
    if kind == "set_state":
        state = str(content.get("state", ""))
        if state not in {
            OperatorState.AVAILABLE,
            OperatorState.BREAK,
            OperatorState.WRAP_UP,
            OperatorState.OFFLINE,
        }:
            raise ValueError("Unknown state.")
        profile_set_state(profile_id=profile_id, state=state, reason=str(content.get("reason", ""))[:40])
        return None
    reservation_id = content.get("reservation")
    if not isinstance(reservation_id, int):
        raise ValueError("A reservation id is required.")
    if kind == "accept":
        call = accept_offer(reservation_id=reservation_id, operator=user)
        return {"type": "accepted", "reservation": reservation_id, "call_sid": call.call_sid}
    if kind == "reject":
        routing.reject(reservation_id=reservation_id, operator=user)
        return None
    raise ValueError("Unknown message type.")


class OperatorConsumer(InTenantOnly, AsyncJsonWebsocketConsumer):
    """One operator's console; see the module docstring for the protocol."""

    async def connect(self) -> None:
        tenant, user = self.scope["tenant"], self.scope["user"]
        if not tenant.is_platform or not OPERATORS.allows(user):
            await self.close(code=4403)
            return
        self.tenant, self.user = tenant, user
        self.group = operator_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        self.profile_id, messages = await in_tenant(tenant, _open)(user)  # expired the overdue offer
        self.seat = Seat(self.profile_id, self.channel_name, tenant, resume=self.resync)
        floor().sit(self.seat)
        # Present at once, not at the floor's next beat. Redis only, on the event loop: not queued
        # on the one thread that runs every console's database work.
        await console_presence.abeat([(self.profile_id, self.channel_name)])
        for message in messages:
            await self.send_json(message)

    async def resync(self) -> None:
        """The channel layer may have lost a push to this socket (its Redis was away): what the
        console must show now, as on connect, after a ``resync`` that tells it so."""
        _profile_id, messages = await in_tenant(self.tenant, _open)(self.user)
        for message in [{"type": "resync"}, *messages]:
            await self.send_json(message)

    async def send_json(self, content: Any, close: bool = False) -> None:
        if isinstance(content, dict) and hasattr(self, "seat"):
            self.seat.note(content)
        await super().send_json(content, close=close)

    async def __call__(self, scope, receive, send) -> None:
        """Whatever ends this consumer (a goodbye, or a crash such as the channel layer's Redis
        going away, which skips ``disconnect``), its seat is left and its presence goes."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            if hasattr(self, "profile_id") and not getattr(self, "gone", False):
                with contextlib.suppress(Exception):
                    await self.disconnect(1011)

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "profile_id") or getattr(self, "gone", False):
            return
        self.gone = True
        if hasattr(self, "seat"):
            await floor().stand(self.seat)
        with contextlib.suppress(Exception):  # Redis down: the layer forgets the channel by itself
            await self.channel_layer.group_discard(self.group, self.channel_name)
        last = await sync_to_async(console_presence.leave)(
            operator_id=self.profile_id, channel=self.channel_name
        )
        if last:
            await in_tenant(self.tenant, _close)(self.user.pk)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            await self.send_json({"type": "error", "error": "A JSON object is expected.", "request": None})
            return
        try:
            reply = await in_tenant(self.tenant, _handle)(self.user, self.profile_id, content)
        except (ValueError, InvalidTransition, PermissionError, Reservation.DoesNotExist) as refused:
            await self.send_json({"type": "error", "error": str(refused), "request": content.get("type")})
            return
        except OperatorProfile.DoesNotExist:  # removed while connected: open again (a new profile)
            await self.close(code=4409)
            return
        if reply is not None:
            await self.send_json(reply)

    async def operator_push(self, event: dict[str, Any]) -> None:
        # A push racing the socket's close must not crash the consumer: its disconnect must run.
        with contextlib.suppress(Exception):
            for message in event["messages"] if "messages" in event else [event["message"]]:
                await self.send_json(message)
