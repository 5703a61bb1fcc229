"""The hub's sessions (playback.hub.Session) backed by engines: started and ended through
playback.engines in threads (it talks to the database, Docker and the engine), read through
playback.upstream on the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async

from . import engines, upstream
from .content import Content
from .hub import DROPPED, STALLED

_open = sync_to_async(engines.open_session, thread_sensitive=False)
_end = sync_to_async(engines.end_session, thread_sensitive=False)


class EngineSession:
    def __init__(self, opened: engines.OpenedSession):
        self.opened = opened
        self.label = opened.engine_name
        self.ended_as: str | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        async for data in upstream.body(self.opened.playback_url):
            yield data

    async def close(self, reason: str) -> None:
        self.ended_as = await _end(self.opened, reason, reason in (DROPPED, STALLED))


def starter(content: Content):
    """The hub's start_session for one content."""

    async def start_session(attempt: int, avoid: frozenset[str]) -> EngineSession:
        opening = asyncio.ensure_future(_open(content, avoid))
        try:
            return EngineSession(await asyncio.shield(opening))
        except asyncio.CancelledError:
            # The hub closed while the engine was being asked: end what the thread started.
            opening.add_done_callback(_end_if_opened)
            raise

    return start_session


def _end_if_opened(opening: asyncio.Future) -> None:
    if not opening.cancelled() and opening.exception() is None:
        asyncio.ensure_future(_end(opening.result(), "closed", False))
