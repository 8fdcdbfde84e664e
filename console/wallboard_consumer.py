"""The wallboard socket ``/ws/wallboard/`` (platform host, supervisors and platform admins).

The server pushes a ``snapshot`` (see ``console.wallboard``) on connect and every
``PUSH_SECONDS``; the browser never polls. The supervisor may send
``{"type": "force_state", "operator": profile id, "state": "available|break|offline"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.permissions import SUPERVISORS
from console import wallboard
from telephony.operators import InvalidTransition
from telephony.routing_models import OperatorProfile
from tenants.sockets import InTenantOnly, in_tenant

PUSH_SECONDS = 2.0


class WallboardConsumer(InTenantOnly, AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        tenant, user = self.scope["tenant"], self.scope["user"]
        if not tenant.is_platform or not SUPERVISORS.allows(user):
            await self.close(code=4403)
            return
        self.user, self.tenant = user, tenant
        await self.accept()
        self.pusher = asyncio.ensure_future(self._push_forever())

    async def _push_forever(self) -> None:
        while True:
            await self.send_json(await in_tenant(self.tenant, wallboard.snapshot)())
            await asyncio.sleep(PUSH_SECONDS)

    async def disconnect(self, code: int) -> None:
        pusher = getattr(self, "pusher", None)
        if pusher is not None:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "force_state":
            await self.send_json({"type": "error", "error": "Unknown message type."})
            return
        try:
            await in_tenant(self.tenant, wallboard.force_state)(
                supervisor=self.user,
                operator_id=int(content.get("operator")),
                state=str(content.get("state")),
            )
        except (TypeError, ValueError, InvalidTransition, OperatorProfile.DoesNotExist) as refused:
            await self.send_json({"type": "error", "error": str(refused) or "Refused."})
            return
        await self.send_json(await in_tenant(self.tenant, wallboard.snapshot)())
