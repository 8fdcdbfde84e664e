"""The portal's live socket: who is online in the client company's portal right now."""

from __future__ import annotations

import asyncio
import contextlib

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.models import User
from accounts.permissions import CLIENT_STAFF
from tenants import portal_presence
from tenants.sockets import InTenantOnly, group_name, in_tenant


def _team() -> list[dict[str, str]]:
    return [
        {"username": u.username, "name": u.get_full_name() or u.username, "role": u.get_role_display()}
        for u in User.objects.filter(is_active=True).order_by("username")
    ]


class PortalConsumer(InTenantOnly, AsyncJsonWebsocketConsumer):
    """Open to the client company's own staff only. Greets with the team and who is online; tells
    who is online again whenever somebody comes or goes, and every ``BEAT_SECONDS`` (a list, never
    a change: a lost push is put right by the next one). See ``tenants.portal_presence``."""

    async def connect(self) -> None:
        tenant, user = self.scope["tenant"], self.scope["user"]
        if tenant.is_platform or not CLIENT_STAFF.allows(user):
            await self.close(code=4403)
            return
        self.schema = tenant.schema_name
        self.group = group_name(tenant, "portal")
        self.label = user.get_full_name() or user.username
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        team = await in_tenant(tenant, _team)()
        online = await self._present()
        await self.send_json({"type": "hello", "company": tenant.name, "user": self.label, "team": team,
                              "online": online if online is not None else [self.label]})  # fmt: skip
        await self.channel_layer.group_send(self.group, {"type": "presence.changed"})
        self.beating = asyncio.create_task(self._beat())

    async def _present(self) -> list[str] | None:
        return await portal_presence.present(schema=self.schema, name=self.label, channel=self.channel_name)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(portal_presence.BEAT_SECONDS)
            online = await self._present()
            if online is not None:
                await self.send_json({"type": "online", "users": online})

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "group"):
            return
        if hasattr(self, "beating"):
            self.beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.beating
        await portal_presence.gone(schema=self.schema, name=self.label, channel=self.channel_name)
        await self.channel_layer.group_send(self.group, {"type": "presence.changed"})
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def presence_changed(self, event: dict[str, object]) -> None:
        online = await portal_presence.online(schema=self.schema)
        if online is not None:
            await self.send_json({"type": "online", "users": online})
