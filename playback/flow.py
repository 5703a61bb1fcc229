"""Backpressure from a player's connection, under daphne.

Why this reaches into daphne: the documented ASGI interface has no backpressure under daphne. Its
`send` never waits: `Server.create_application` passes `send=partial(self.handle_reply, protocol)`,
and `handle_reply` writes the body straight into Twisted's transport buffer, without bound and
without yielding. A player that stops reading (paused, stuck, on a dead Wi-Fi link that TCP has not
noticed yet) would then grow the web process's memory by the stream's rate, forever, and the ring
could never cut it off, since it always looks up to date.

Twisted's documented producer API does give flow control: `request.registerProducer(producer, True)`
on the `twisted.web.http.Request` (daphne's `WebRequest`, the `protocol` in that partial) makes the
channel call `producer.pauseProducing()` when the transport's buffer is over its size (64 KiB) and
`resumeProducing()` once it has drained, and `stopProducing()` when the connection is lost. So
`Flow.for_send(send)` looks for exactly that partial and registers a push producer; the writer awaits
`flow.writable()` before each send. Any other `send` (another ASGI server, whose send applies its own
backpressure, such as uvicorn's; a wrapped send; a test's fake) gets a plain `Flow`, always writable.

The structure relied on is private to daphne; tests/test_playback_flow_guard.py pins the daphne
version, checks the structure, and runs a real daphne with a client that does not read, so an upgrade
that changes it fails there rather than in production.

Twisted calls the producer methods from its reactor, which under daphne is the asyncio event loop
itself, so setting an asyncio.Event from them is safe.
"""

from __future__ import annotations

import asyncio
import functools
import logging

logger = logging.getLogger(__name__)


class Flow:
    """Always writable unless told otherwise. Implements Twisted's IPushProducer methods, so the
    same object is what the transport pauses; tests pause it by hand."""

    def __init__(self) -> None:
        self.paused = False
        self.stopped = False
        self._resumed = asyncio.Event()
        self._resumed.set()

    @classmethod
    def for_send(cls, send) -> Flow:
        """A Flow that follows the connection behind `send` when it is daphne's, else a plain one.
        Call it before the first send, and `close()` it before the last one (more_body False)."""
        request = _daphne_request(send)
        if request is None:
            return cls()
        try:
            return ProducerFlow(request)
        except (ValueError, RuntimeError) as exc:  # a producer is already registered on it
            logger.warning("no backpressure for this response (%s); sending without it", exc)
            return cls()

    async def writable(self) -> None:
        """Return when the connection takes more data (at once unless paused), or it is gone."""
        while self.paused and not self.stopped:
            await self._resumed.wait()

    # Twisted's IPushProducer, called by the transport (through the HTTP channel).
    def pauseProducing(self) -> None:  # Twisted's names
        self.paused = True
        self._resumed.clear()

    def resumeProducing(self) -> None:
        self.paused = False
        self._resumed.set()

    def stopProducing(self) -> None:
        self.stopped = True
        self._resumed.set()

    def close(self) -> None:
        """Stop following the connection (before the response's last send). Idempotent."""

    def abort(self) -> bool:
        """Drop the connection at once, whatever is still buffered for it. False when this Flow
        cannot (the caller then ends the response normally)."""
        return False


class ProducerFlow(Flow):
    """A Flow registered as the push producer of a daphne (Twisted) request."""

    def __init__(self, request) -> None:
        super().__init__()
        self._request = request
        request.registerProducer(self, True)
        self._registered = True

    def close(self) -> None:
        if not self._registered:
            return
        self._registered = False
        request = self._request
        # After the connection is lost the request has no channel (and unregistering would fail);
        # before the last send it must be unregistered, or Twisted logs "Producer was not
        # unregistered" when the request finishes.
        if getattr(request, "channel", None) is not None and request.producer is self:
            request.unregisterProducer()

    def abort(self) -> bool:
        transport = getattr(self._request, "transport", None)
        if transport is None or getattr(self._request, "channel", None) is None:
            return False
        transport.abortConnection()
        return True


def _daphne_request(send):
    """The Twisted request behind daphne's `partial(server.handle_reply, protocol)`, or None."""
    if not isinstance(send, functools.partial) or len(send.args) != 1 or send.keywords:
        return None
    request = send.args[0]
    # `producer` is None on a Twisted request with no producer yet (a class attribute).
    takes_producer = callable(getattr(request, "registerProducer", None))
    if not takes_producer or getattr(request, "producer", 0) is not None:
        return None
    return request
