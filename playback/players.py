"""The player side of a hub (playback.hub): seats, and one task per player that writes the ring to
its connection.

`PlayerSide` is a mixin that `Hub` inherits: admitting a player (its `Seat`; the linger after the last
one leaves), waiting for the first data, serving (the writer that sends batches from the ring, the
listener that awaits the disconnect beside it, why the player ended, ending its response), and the
sweep that cuts off players blocked on their connection behind the ring. It is apart from the
upstream (playback.hub) because the two share only the ring and a few counters. Its methods work on
the hub's state, which `Hub.__init__` sets up (the annotations below), and use the hub's `state`,
`_run`, `close`, `_notify` and `_spawn`.

Sends are batched: a player sends everything available, up to `batch_max_bytes`, and when less than
`batch_min_bytes` is there it waits up to `batch_wait_s` for more; a 512 KiB/s stream then costs about
ten sends a second per player instead of one per engine read (STACK.md: fewer, larger sends are what
keeps streaming through daphne cheap). The first body of a player goes out at once.

A player's disconnect is awaited by its own task beside the writer, so it ends the player at once
(STACK.md: a loop that only sends never sees `http.disconnect`).

A player that cannot keep up falls behind the ring and is cut off: its own read raises FellBehind,
or, while it is blocked on its connection, the sweep the upstream runs (every SWEEP_INTERVAL_S at
most) cancels it, so a player that stops reading does not keep its seat forever.

Like the hub: asyncio and the stdlib only, no Django. It logs as playback.hub, as it always has.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from playback.flow import Flow
from playback.ring import FellBehind, Ring
from playback.terms import (
    CUT_OFF,
    FINAL_SEND_TIMEOUT_S,
    HUB_CLOSED,
    LEFT,
    NO_PLAYERS,
    SWEEP_INTERVAL_S,
    HubClosed,
    Limits,
    StartFailed,
    StartTimeout,
    TooManyPlayers,
)

if TYPE_CHECKING:
    from playback.hub import Hub

logger = logging.getLogger("playback.hub")


class Seat:
    """A player's place in the hub (counted in hub.players). release() is idempotent."""

    __slots__ = ("_hub",)

    def __init__(self, hub: Hub):
        self._hub: Hub | None = hub

    @property
    def held(self) -> bool:
        return self._hub is not None

    def release(self) -> None:
        hub, self._hub = self._hub, None
        if hub is not None:
            hub._release()

    def __enter__(self) -> Seat:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class _Player:
    __slots__ = ("offset", "stuck", "task", "cut_reason")

    def __init__(self):
        self.offset = 0  # the next byte of the ring it will read
        self.stuck = False  # awaiting its connection (flow.writable() or send())
        self.task: asyncio.Task | None = None
        self.cut_reason: str | None = None

    def cut(self, reason: str) -> None:
        if self.cut_reason is None and self.task is not None:
            self.cut_reason = reason
            self.task.cancel()


class PlayerSide:
    """Hub's player methods (see the module docstring)."""

    # The hub's state that the player side reads and writes (set in Hub.__init__).
    key: str
    limits: Limits
    ring: Ring
    players: int
    bytes_sent: int
    cut_off: int
    error: BaseException | None
    _terminal: bool
    _ready: asyncio.Event
    _upstream: asyncio.Task | None
    _linger: asyncio.Task | None
    _loop: asyncio.AbstractEventLoop | None
    _players: set[_Player]
    _next_sweep: float

    @property
    def accepts_players(self) -> bool:
        """False from the moment it starts closing or failing: a player then needs a new hub."""
        return not self._terminal

    def admit(self) -> Seat:
        """Take a player's seat; starts the upstream at the first one and keeps a lingering session."""
        if not self.accepts_players:
            raise HubClosed(f"{self.key}: the hub is {self.state}")
        if self.players >= self.limits.max_players:
            raise TooManyPlayers(f"{self.key}: {self.limits.max_players} players already")
        self.players += 1
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        if self._upstream is None:
            self._loop = asyncio.get_running_loop()
            self._upstream = asyncio.create_task(self._run(), name=f"playback upstream {self.key}")
        self._notify("player_joined")
        return Seat(self)

    def _release(self) -> None:
        self.players -= 1
        self._notify("player_left")
        if self.players == 0 and not self._terminal:
            self._linger = self._spawn(self._linger_then_close(), f"playback linger {self.key}")
            self._notify("lingering")

    async def _linger_then_close(self) -> None:
        await asyncio.sleep(self.limits.linger_s)
        self._linger = None
        await self.close(NO_PLAYERS)

    async def wait_ready(self) -> None:
        """Return when the ring has data (at once for a running content); else StartFailed(cause)
        when the hub fails first, or StartTimeout after start_timeout_s."""
        if self.ring.end:
            return
        if not self._ready.is_set():
            try:
                async with asyncio.timeout(self.limits.start_timeout_s):
                    await self._ready.wait()
            except TimeoutError:
                raise StartTimeout(f"{self.key}: no data within {self.limits.start_timeout_s:g} s") from None
        if not self.ring.end:
            cause = self.error or HubClosed(f"{self.key}: the hub is {self.state}")
            raise StartFailed(cause) from cause

    async def serve(self, send, receive, flow: Flow | None = None, seat: Seat | None = None) -> str:
        """Stream to one player whose response headers the caller has sent, until it leaves, is cut
        off or the hub ends; ends the response (the caller sends nothing after) and releases the
        seat (taken here when None is given). `flow` defaults to Flow.for_send(send). Returns LEFT,
        CUT_OFF or HUB_CLOSED."""
        if seat is None:
            seat = self.admit()
        if flow is None:
            flow = Flow.for_send(send)
        player = _Player()
        try:
            self._players.add(player)
            writer = asyncio.create_task(self._write(player, send, flow), name=f"playback player {self.key}")
            player.task = writer
            listener = asyncio.create_task(self._listen(receive), name=f"playback disconnect {self.key}")
            try:
                await asyncio.wait((writer, listener), return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._players.discard(player)
                writer.cancel()
                listener.cancel()
                await asyncio.gather(writer, listener, return_exceptions=True)
                flow.close()
            reason = self._why_ended(player, writer, listener)
            if reason == CUT_OFF:
                self.cut_off += 1
                logger.info("playback %s: a player fell behind the ring and was cut off", self.key)
            if reason != LEFT:
                await self._end_response(send, flow)
            return reason
        finally:
            seat.release()

    async def _write(self, player: _Player, send, flow: Flow) -> str:
        ring = self.ring
        batch_max = self.limits.batch_max_bytes
        batch_min = self.limits.batch_min_bytes
        batch_wait = self.limits.batch_wait_s
        offset = player.offset = ring.join_offset()
        first = True
        while True:
            if ring.end <= offset:
                if ring.closed:
                    return HUB_CLOSED
                await ring.wait_beyond(offset)
                continue
            if not first and ring.end - offset < batch_min and not ring.closed:
                try:
                    async with asyncio.timeout(batch_wait):
                        await ring.wait_beyond(offset + batch_min - 1)
                except TimeoutError:
                    pass
            if flow.paused and ring.closed:
                return HUB_CLOSED  # it would wait for a connection that nothing will be sent to
            player.stuck = True
            await flow.writable()
            player.stuck = False
            if flow.stopped:
                return LEFT
            try:
                data = ring.read(offset, batch_max)
            except FellBehind:
                return CUT_OFF
            offset = player.offset = offset + len(data)
            player.stuck = True
            await send({"type": "http.response.body", "body": data, "more_body": True})
            player.stuck = False
            self.bytes_sent += len(data)
            first = False

    @staticmethod
    async def _listen(receive) -> None:
        while True:
            message = await receive()
            if message.get("type") == "http.disconnect":
                return

    def _why_ended(self, player: _Player, writer: asyncio.Task, listener: asyncio.Task) -> str:
        if listener.done() and not listener.cancelled():
            return LEFT  # disconnected (or receive raised: the connection is gone either way)
        if writer.cancelled():
            return player.cut_reason or HUB_CLOSED
        error = writer.exception()
        if error is not None:
            # An ASGI server may raise from send once the client is gone (OSError); anything else is
            # a bug worth seeing. The player is over either way.
            log = logger.debug if isinstance(error, OSError) else logger.warning
            log("playback %s: a player's send failed: %r", self.key, error)
            return LEFT
        return writer.result()

    async def _end_response(self, send, flow: Flow) -> None:
        # A player that is not reading would only get the end after its whole backlog, if ever, while
        # its connection and buffer stay: drop it instead.
        if flow.paused and flow.abort():
            return
        try:
            async with asyncio.timeout(FINAL_SEND_TIMEOUT_S):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except Exception as exc:  # noqa: BLE001 - the connection is gone or stuck: nothing more to do
            logger.debug("playback %s: ending a response failed: %r", self.key, exc)

    def _sweep(self, now: float) -> None:
        """Cut off the players blocked on their connection whose offset the ring has dropped."""
        self._next_sweep = now + SWEEP_INTERVAL_S
        start = self.ring.start
        for player in [p for p in self._players if p.stuck and p.offset < start]:
            player.cut(CUT_OFF)
