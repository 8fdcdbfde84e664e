"""The portal's live socket: who is online in the client company's portal right now."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.models import User
from accounts.permissions import CLIENT_STAFF
from tenants.sockets import group_name, in_tenant


def _team() -> list[dict[str, str]]:
    return [
        {"username": u.username, "name": u.get_full_name() or u.username, "role": u.get_role_display()}
        for u in User.objects.filter(is_active=True).order_by("username")
    ]


class PortalConsumer(AsyncJsonWebsocketConsumer):
    """Open to the client company's own staff only; pushes a greeting and presence changes."""

    async def connect(self) -> None:
        tenant, user = self.scope["tenant"], self.scope["user"]
        if tenant.is_platform or not CLIENT_STAFF.allows(user):
            await self.close(code=4403)
            return
        self.group = group_name(tenant, "portal")
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        team = await in_tenant(tenant, _team)()
        self.label = user.get_full_name() or user.username
        await self.send_json({"type": "hello", "company": tenant.name, "user": self.label, "team": team})
        await self.channel_layer.group_send(
            self.group, {"type": "presence", "user": self.label, "online": True}
        )

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_send(
                self.group, {"type": "presence", "user": self.label, "online": False}
            )
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def presence(self, event: dict[str, object]) -> None:
        await self.send_json({"type": "presence", "user": event["user"], "online": event["online"]})
