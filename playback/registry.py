"""The hubs of the playback owner process: one per content played, made at its first player and
dropped when it is over; their figures written to the database for every other process
(PlayedContent rows, counters for /metrics, a `playback` live update for the panel); and the
operators' requests from other processes (stop, move to another engine) taken from the channel
layer."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from datetime import UTC, datetime

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import close_old_connections
from django.utils import timezone

from core.config import conf
from core.errors import Unavailable
from core.models import Counter
from core.notify import notify

from . import engines
from .content import Content
from .control import CONTROL_GROUP
from .hub import Hub, Limits
from .models import PlayedContent
from .sessions import starter

log = logging.getLogger(__name__)

# The database's view of the hubs is refreshed this often, and at once on any change.
PERSIST_EVERY_S = 2.0
OWNER = f"{socket.gethostname()}:{os.getpid()}"


class ProxyCapacity(Unavailable):
    code = "proxy_capacity"

    def detail(self) -> dict:
        return {"error": "playback_refused", "code": self.code, "message": self.message,
                "recovery_eta_seconds": None, "can_retry": True, "should_wait": True}


# A player's writes wait up to this long to gather BATCH_MIN_BYTES: at 256 KiB/s that is one
# 64 KiB send every quarter of a second instead of one of 26 KiB every tenth (bench/playback.py:
# the web's CPU per byte is mostly per send). Players buffer seconds of TS; they do not notice.
BATCH_WAIT_S = 0.25
BATCH_MIN_BYTES = 64 * 1024


def limits() -> Limits:
    """The current settings (live: a new hub takes them)."""
    cfg = conf()
    return Limits(buffer_bytes=cfg.PROXY_BUFFER_MB * 1024 * 1024, stall_s=cfg.PROXY_STALL_S,
                  failover_tries=cfg.PROXY_FAILOVER_TRIES, linger_s=cfg.PROXY_LINGER_S,
                  start_timeout_s=cfg.PROXY_START_TIMEOUT_S,
                  max_players=cfg.PROXY_MAX_PLAYERS_PER_STREAM,
                  batch_min_bytes=BATCH_MIN_BYTES, batch_wait_s=BATCH_WAIT_S)


class Registry:
    def __init__(self):
        self.hubs: dict[str, Hub] = {}
        self._recovered = threading.Event()
        self._started = False
        self._dirty: asyncio.Event | None = None
        self._persisted: dict[str, dict] = {}  # what the counters last saw of each hub

    def recover(self) -> None:
        """Run once at the owner's start, in a thread: end what an earlier run left playing."""
        try:
            ended = engines.end_orphans()
            if ended:
                log.info("ended %d stream(s) played before the restart", ended)
        except Exception:  # noqa: BLE001 - never keep players out because of it
            log.exception("could not end the streams of the previous run")
        finally:
            self._recovered.set()

    async def _ensure_started(self) -> None:
        if self._started:
            return
        self._started = True
        self._dirty = asyncio.Event()
        await asyncio.to_thread(self._recovered.wait)
        asyncio.create_task(self._persist_loop(), name="playback persist")
        asyncio.create_task(self._control_loop(), name="playback control")

    async def hub_for(self, content: Content) -> Hub:
        """The content's hub, made if it has none (ProxyCapacity beyond PROXY_MAX_STREAMS)."""
        await self._ensure_started()
        hub = self.hubs.get(content.key)
        # A hub still closing its session (the engine's stop can take a second) is not `done` yet,
        # but admits nobody: the content gets a new hub, as it would a moment later.
        if hub is not None and hub.accepts_players:
            return hub
        running = sum(1 for other in self.hubs.values() if not other.done.is_set())
        if running >= conf().PROXY_MAX_STREAMS:
            raise ProxyCapacity(f"{running} contents are playing, the most PROXY_MAX_STREAMS allows")
        hub = Hub(content.key, starter(content), limits(), on_change=self._changed)
        self.hubs[content.key] = hub
        asyncio.create_task(self._forget_when_done(hub), name=f"playback forget {content.key}")
        return hub

    async def _forget_when_done(self, hub: Hub) -> None:
        await hub.done.wait()
        if self.hubs.get(hub.key) is hub:
            del self.hubs[hub.key]
        self._changed(hub, "closed")

    def _changed(self, hub: Hub, event: str) -> None:
        if self._dirty is not None:
            self._dirty.set()

    async def _persist_loop(self) -> None:
        while True:
            try:
                async with asyncio.timeout(PERSIST_EVERY_S):
                    await self._dirty.wait()
            except TimeoutError:
                pass
            self._dirty.clear()
            snapshots = [self._snapshot(hub) for hub in self.hubs.values()]
            try:
                await sync_to_async(self._persist, thread_sensitive=False)(snapshots)
            except Exception:  # noqa: BLE001 - the figures are refreshed at the next pass
                log.warning("could not record the playback figures", exc_info=True)

    @staticmethod
    def _snapshot(hub: Hub) -> dict:
        stats = hub.stats()
        opened = getattr(hub.session, "opened", None)  # an EngineSession's stream
        stats["stream_id"] = opened.stream_id if opened else ""
        return stats

    def _persist(self, snapshots: list[dict]) -> None:
        close_old_connections()
        now = timezone.now()
        for stats in snapshots:
            PlayedContent.objects.update_or_create(key=stats["key"], defaults={
                "owner": OWNER, "state": stats["state"], "engine": stats["label"] or "",
                "stream_id": stats["stream_id"], "players": stats["players"],
                "bytes_sent": stats["bytes_sent"], "failovers": stats["failovers"],
                "cut_off": stats["cut_off"], "updated": now,
                "since": datetime.fromtimestamp(stats["since"], tz=UTC)})
            self._count(stats)
        playing = [stats["key"] for stats in snapshots]
        PlayedContent.objects.filter(owner=OWNER).exclude(key__in=playing).delete()
        for key in set(self._persisted) - set(playing):
            del self._persisted[key]
        notify("playback", contents=len(playing), players=sum(s["players"] for s in snapshots))

    def _count(self, stats: dict) -> None:
        """What changed since the last write, into the counters /metrics exports."""
        before = self._persisted.get(stats["key"], {"bytes_sent": 0, "cut_off": 0, "failovers": {}})
        if sent := stats["bytes_sent"] - before["bytes_sent"]:
            Counter.add("orch_proxy_bytes_sent_total", sent)
        if cut := stats["cut_off"] - before["cut_off"]:
            Counter.add("orch_proxy_players_cut_off_total", cut)
        for reason, count in stats["failovers"].items():
            if more := count - before["failovers"].get(reason, 0):
                Counter.add("orch_proxy_failovers_total", more, reason=reason)
        self._persisted[stats["key"]] = stats

    async def _control_loop(self) -> None:
        """Operators' stop and move, sent by any process (playback.control.send)."""
        layer = get_channel_layer()
        if layer is None:
            return
        channel = await layer.new_channel()
        await layer.group_add(CONTROL_GROUP, channel)
        while True:
            try:
                message = await layer.receive(channel)
                await self.control(message.get("action"), message.get("key", ""))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one bad message must not stop the others
                log.warning("playback control message failed", exc_info=True)
                await asyncio.sleep(1)

    async def control(self, action: str, key: str) -> bool:
        hub = self.hubs.get(key)
        if hub is None:
            return False
        if action == "stop":
            await hub.close("stopped_by_operator")
            return True
        if action == "move":
            return hub.move()
        return False


registry = Registry()
