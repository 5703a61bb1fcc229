"""The live feed of the panel and the admin lists: every `notify()` change, pushed to staff."""

import asyncio
import contextlib

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from core.notify import GROUP

# Sent as the close code when a socket is refused after the handshake; before it, Daphne answers 403.
NOT_STAFF = 4403
# Channel layers drop group members after `group_expiry` (a day by default): a panel left open on a
# wall screen would go quiet without noticing. Joining again well before that keeps it subscribed.
REJOIN_EVERY_S = 3600


class FleetConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/fleet`: staff sessions only (origins are checked by AllowedHostsOriginValidator)."""

    rejoin_task = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff:
            await self.close(code=NOT_STAFF)
            return
        await self.channel_layer.group_add(GROUP, self.channel_name)
        self.rejoin_task = asyncio.create_task(self._rejoin_periodically())
        await self.accept()

    async def _rejoin_periodically(self):
        while True:
            await asyncio.sleep(REJOIN_EVERY_S)
            await self.channel_layer.group_add(GROUP, self.channel_name)

    async def disconnect(self, code):
        if self.rejoin_task is None:
            return
        self.rejoin_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.rejoin_task
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def receive_json(self, content, **kwargs):
        """The feed is one-way; anything a client sends is ignored."""

    async def fleet_change(self, event):
        await self.send_json({"kind": event["kind"], "data": event.get("data", {}), "ts": event["ts"]})
