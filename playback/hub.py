"""One content's upstream and its players: one engine session, fanned out to every player.

The upstream task starts with the first player. It reads the engine's body (`Session.chunks()`)
through an `Aligner` into the content's `Ring`; each player is a task that reads the ring from its own
offset and writes to its connection. When a session fails (no packet for `stall_s`, the body ends,
it is not TS, Docker reports the engine dead) the hub starts another one, on another engine, and goes
on appending to the same ring: the players never notice but for a gap, and the new bytes follow the
old ones on a packet boundary (each session has a fresh aligner). `failover_tries` failed attempts in
a row (starts that raised or sessions that never delivered a packet) fail the hub.

Players never slow the upstream nor each other: the upstream only appends, a player that cannot keep
up falls behind the ring and is cut off (also while it is blocked on its connection, so a player that
stops reading does not keep its seat forever).

Sends are batched: a player sends everything available, up to `batch_max_bytes`, and when less than
`batch_min_bytes` is there it waits up to `batch_wait_s` for more; a 512 KiB/s stream then costs about
ten sends a second per player instead of one per engine read (STACK.md: fewer, larger sends are what
keeps streaming through daphne cheap). The first body of a player goes out at once.

A player's disconnect is awaited by its own task beside the writer, so it ends the player at once
(STACK.md: a loop that only sends never sees `http.disconnect`).

Use from the ASGI side:

    seat = hub.admit()                 # TooManyPlayers, HubClosed (then make a new hub)
    try:
        await hub.wait_ready()         # StartFailed(cause), StartTimeout
    except BaseException:
        seat.release()
        raise
    flow = Flow.for_send(send)         # before the first send
    await send({"type": "http.response.start", ...})
    reason = await hub.serve(send, receive, flow, seat)   # ends the response; releases the seat

This module is the lowest layer of the playback app: asyncio and the stdlib only, no Django.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from playback.flow import Flow
from playback.packets import PACKET, Aligner, NotTransportStream
from playback.ring import FellBehind, Ring

logger = logging.getLogger(__name__)

# Why a session ended: the argument of Session.close.
NO_PLAYERS = "no_players"  # the last player left and nobody came back within linger_s
ENGINE_DIED = "engine_died"  # hub.engine_died(label): Docker reported the engine's death
STALLED = "stalled"  # no packet for stall_s (or for start_timeout_s before the session's first one)
DROPPED = "dropped"  # the body ended, or reading it raised
NOT_TS = "not_ts"  # the body is not MPEG-TS
MOVED = "moved"  # hub.move(): an operator moved the content to another engine (not a failure)
CLOSED = "closed"  # hub.close(): shutdown or an operator's stop (hub.close(reason) passes its own)
# A failed start (start_session raised) in the `failovers` stats.
START_FAILED = "start_failed"

# What Hub.serve returns.
LEFT = "left"  # the player disconnected (or its send raised: the connection is gone)
CUT_OFF = "cut_off"  # it fell behind the ring
HUB_CLOSED = "hub_closed"  # the hub closed or failed; the response was ended

# Events passed to on_change.
EVENTS = ("player_joined", "player_left", "session_started", "streaming", "session_ended", "failover",
          "lingering", "closed")

# How often, at most, the upstream looks for players blocked on their connection while the ring has
# dropped their offset. Cutting them off is not urgent (they hold one batch, not the stream); the
# walk over the players is the only per-player work outside the players' own tasks.
SWEEP_INTERVAL_S = 0.5
# Bounds on what the hub awaits from others, so that a hung engine or database never keeps a hub (and
# its ring) alive: Session.close, the session's chunks() generator closing, a player's last send.
SESSION_CLOSE_TIMEOUT_S = 10.0
CHUNKS_CLOSE_TIMEOUT_S = 5.0
FINAL_SEND_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Limits:
    buffer_bytes: int = 16 * 1024 * 1024  # the ring: 32 s of a 512 KiB/s stream
    stall_s: float = 10.0  # no packet for this long: the session has stalled
    failover_tries: int = 3  # failed attempts in a row before the hub fails
    linger_s: float = 10.0  # the session outlives its last player by this much
    start_timeout_s: float = 30.0  # wait_ready's bound, and a session's bound to its first packet
    max_players: int = 100
    # A player's batches (see the module docstring).
    batch_max_bytes: int = 512 * 1024
    batch_min_bytes: int = 64 * 1024
    batch_wait_s: float = 0.1

    def __post_init__(self):
        if self.failover_tries < 1:
            raise ValueError("failover_tries must be at least 1")
        if self.max_players < 1:
            raise ValueError("max_players must be at least 1")
        if not PACKET <= self.batch_min_bytes <= self.batch_max_bytes:
            raise ValueError(f"batch sizes must satisfy {PACKET} <= batch_min_bytes <= batch_max_bytes")


class Session(Protocol):
    """One engine session of the content, made by the Django side's start_session."""

    label: str  # the engine's name (for logs, stats and `avoid`)

    def chunks(self) -> AsyncIterator[bytes]:
        """The engine's bytes, in reads of any size (`async def chunks(self): ... yield data`).
        Ending means the engine dropped the stream. The hub may cancel it at any point and then
        closes it (aclose)."""
        ...

    async def close(self, reason: str) -> None:
        """End the stream record and stop the engine session. Called exactly once per session."""
        ...


# start_session(attempt, avoid): attempt counts from 1 over the hub's life; avoid holds the engines
# that failed since the last session that delivered data (and the one moved away from). It may
# raise (the exception becomes StartFailed's cause once the tries are spent), and it may be cancelled
# (hub.close() while starting), in which case it must undo what it started itself.
StartSession = Callable[[int, frozenset[str]], Awaitable[Session]]
OnChange = Callable[["Hub", str], None]


class PlaybackError(Exception):
    pass


class TooManyPlayers(PlaybackError):
    """admit() beyond max_players."""


class HubClosed(PlaybackError):
    """admit() on a hub that is closing, closed or failed: the caller makes a new hub."""


class StartTimeout(PlaybackError):
    """No byte within start_timeout_s of wait_ready()."""


class StartFailed(PlaybackError):
    """The hub failed before it had any data. `cause` is the last exception start_session raised (as
    raised, e.g. the Django side's ProvisioningBlocked), or a SessionFailed when sessions did start
    but none delivered a packet, or HubClosed when the hub was closed meanwhile."""

    def __init__(self, cause: BaseException):
        super().__init__(f"the stream could not start: {cause!r}")
        self.cause = cause


class SessionFailed(PlaybackError):
    """A session that ended (reason, engine label) before delivering a packet."""

    def __init__(self, reason: str, label: str):
        super().__init__(f"the session on {label} ended before any data: {reason}")
        self.reason = reason
        self.label = label


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


class Hub:
    """One content's upstream and players. See the module docstring.

    Stats for status pages: players, bytes_sent, bytes_received, since (Unix time), failovers
    (sessions that failed or were moved, and failed starts, by reason: "stalled", "dropped", "not_ts",
    "engine_died", "moved", "start_failed"), cut_off, sessions (started), label (current engine, None
    between sessions), state ("starting", "streaming", "failing_over", "lingering", "failed",
    "closed"), error (why it failed).
    `done` is set once the hub is over (closed or failed, every session closed).
    """

    def __init__(self, key: str, start_session: StartSession, limits: Limits | None = None,
                 on_change: OnChange | None = None):
        self.key = key
        self.limits = limits or Limits()
        self.ring = Ring(self.limits.buffer_bytes)
        self.done = asyncio.Event()
        # Stats.
        self.players = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        self.since = time.time()
        self.failovers: dict[str, int] = {}
        self.cut_off = 0
        self.sessions = 0
        self.label: str | None = None
        self.error: BaseException | None = None

        self._start_session = start_session
        self._on_change = on_change
        self._upstream_state = "starting"  # then "streaming" / "failing_over"
        self._final: str | None = None  # "failed" / "closed"
        self._terminal = False  # closing or failing: no new player, no new session
        self._close_reason = CLOSED
        self._ready = asyncio.Event()  # the ring has data, or the hub is over
        self._upstream: asyncio.Task | None = None
        self._linger: asyncio.Task | None = None
        self._background: set[asyncio.Task] = set()  # strong references to tasks we do not await
        self._closing_sessions: set[asyncio.Task] = set()
        self._players: set[_Player] = set()
        # The running session.
        self._session: Session | None = None
        self._pump: asyncio.Task | None = None
        self._interrupt: str | None = None
        self._delivered = False
        self._last_packet = 0.0
        self._watchdog: asyncio.TimerHandle | None = None
        self._next_sweep = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"<Hub {self.key} {self.state} on {self.label} players={self.players}>"

    @property
    def session(self) -> Session | None:
        """The session being read now (None between sessions)."""
        return self._session

    @property
    def state(self) -> str:
        if self._final:
            return self._final
        if self._linger is not None:
            return "lingering"
        return self._upstream_state

    def stats(self) -> dict:
        return {
            "key": self.key, "state": self.state, "label": self.label, "players": self.players,
            "bytes_sent": self.bytes_sent, "bytes_received": self.bytes_received, "since": self.since,
            "failovers": dict(self.failovers), "cut_off": self.cut_off, "sessions": self.sessions,
            "buffered_bytes": len(self.ring), "error": repr(self.error) if self.error else None,
        }

    # Players.

    def admit(self) -> Seat:
        """Take a player's seat; starts the upstream at the first one and keeps a lingering session."""
        if self._terminal:
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

    # The upstream.

    def engine_died(self, label: str) -> bool:
        """Docker reports engine `label` dead: fail its session over now. False if it is not ours."""
        if self._session is not None and self._session.label == label:
            return self._interrupt_session(ENGINE_DIED)
        return False

    def move(self) -> bool:
        """Move the content to another engine (not counted as a failure). False if no session runs."""
        return self._interrupt_session(MOVED)

    def _interrupt_session(self, reason: str) -> bool:
        pump = self._pump
        if pump is None or pump.done() or self._interrupt is not None:
            return False
        self._interrupt = reason
        pump.cancel()
        return True

    async def _run(self) -> None:
        """The upstream task: sessions and failovers until the hub is closed (cancelled) or fails."""
        try:
            cause = await self._failover_loop()
        except asyncio.CancelledError:
            # hub.close(): the running session (if any) ends with the close's reason.
            if self._session is not None:
                self._close_session(self._session, self._close_reason)
                self._session = None
            raise
        except Exception as exc:  # noqa: BLE001 - a bug here must still end the hub, its players, its session
            logger.exception("playback %s: the upstream broke", self.key)
            if self._session is not None:
                self._close_session(self._session, CLOSED)
                self._session = None
            cause = exc
        self.error = cause
        self._terminal = True
        await self._wind_down("failed")

    async def _failover_loop(self) -> BaseException:
        """Start sessions until failover_tries attempts in a row failed; returns the last cause."""
        tries = self.limits.failover_tries
        attempt = 0
        streak = 0  # failed attempts in a row (a session that delivered data resets it)
        avoid: set[str] = set()  # engines that failed since the last session that delivered data
        while True:
            attempt += 1
            try:
                session = await self._start_session(attempt, frozenset(avoid))
            except Exception as exc:  # noqa: BLE001 - any failure to start is an attempt that failed
                streak += 1
                self._count(START_FAILED)
                logger.warning("playback %s: start %d failed (%d/%d in a row): %r",
                               self.key, attempt, streak, tries, exc)
                if streak >= tries:
                    return exc
                self._notify("failover")
                continue
            reason = await self._run_session(session)
            label, delivered = session.label, self._delivered
            self._session = None
            self.label = None
            self._close_session(session, reason)
            self._count(reason)
            self._notify("session_ended")
            if self.ring.end:
                self._upstream_state = "failing_over"
            if reason == MOVED:
                avoid.add(label)
                logger.info("playback %s: moved away from %s", self.key, label)
            else:
                if delivered:
                    streak, avoid = 0, set()
                else:
                    streak += 1
                avoid.add(label)
                logger.warning("playback %s: session on %s ended: %s%s", self.key, label, reason,
                               "" if delivered else f" before any data ({streak}/{tries} in a row)")
                if streak >= tries:
                    logger.error("playback %s: failing after %d attempts in a row", self.key, streak)
                    return SessionFailed(reason, label)
            self._notify("failover")

    async def _run_session(self, session: Session) -> str:
        """Pump one session into the ring; returns why it ended."""
        loop = self._loop
        self._session = session
        self.label = session.label
        self.sessions += 1
        self._delivered = False
        self._interrupt = None
        self._last_packet = loop.time()
        logger.info("playback %s: session %d on %s", self.key, self.sessions, session.label)
        self._notify("session_started")
        pump = self._pump = asyncio.create_task(self._pump_session(session), name=f"playback pump {self.key}")
        self._watchdog = loop.call_at(self._last_packet + self.limits.start_timeout_s, self._check_stall)
        try:
            return await pump
        except NotTransportStream as exc:
            logger.warning("playback %s: %s sends no MPEG-TS: %s", self.key, session.label, exc)
            return NOT_TS
        except asyncio.CancelledError:
            if self._interrupt is None or asyncio.current_task().cancelling():
                raise  # the hub is closing, not an interrupt of this session
            return self._interrupt
        except Exception as exc:  # noqa: BLE001 - whatever broke the body, the session has dropped
            logger.warning("playback %s: reading from %s failed: %r", self.key, session.label, exc)
            return DROPPED
        finally:
            self._watchdog.cancel()
            self._pump = None
            pump.cancel()  # a no-op unless we were cancelled while it runs

    async def _pump_session(self, session: Session) -> str:
        aligner = Aligner()  # per session: a splice is always on a packet boundary
        chunks = session.chunks()
        try:
            async for data in chunks:
                self.bytes_received += len(data)
                try:
                    packets = aligner.feed(data)
                except NotTransportStream as exc:
                    self._deliver(exc.packets)
                    raise
                self._deliver(packets)
            return DROPPED
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                try:
                    async with asyncio.timeout(CHUNKS_CLOSE_TIMEOUT_S):
                        await aclose()
                except Exception as exc:  # noqa: BLE001 - the session is over either way
                    logger.debug("playback %s: closing the body of %s: %r", self.key, session.label, exc)

    def _deliver(self, packets: bytes) -> None:
        if not packets:
            return
        self.ring.append(packets)
        now = self._last_packet = self._loop.time()
        if not self._delivered:
            self._delivered = True
            # From now on the bound is stall_s, usually shorter than the start's bound it was armed with.
            self._watchdog.cancel()
            self._watchdog = self._loop.call_at(now + self.limits.stall_s, self._check_stall)
            self._upstream_state = "streaming"
            self._ready.set()
            self._notify("streaming")
        if now >= self._next_sweep and self._players:
            self._sweep(now)

    def _check_stall(self) -> None:
        limit = self.limits.stall_s if self._delivered else self.limits.start_timeout_s
        due = self._last_packet + limit
        if self._loop.time() >= due - 0.001:  # the loop may run a timer a clock tick early
            self._interrupt_session(STALLED)
        else:
            self._watchdog = self._loop.call_at(due, self._check_stall)

    def _close_session(self, session: Session, reason: str) -> None:
        """Close in the background: the next session starts meanwhile; the hub's end awaits it."""
        task = self._spawn(self._close_one(session, reason), f"playback close {self.key}")
        self._closing_sessions.add(task)
        task.add_done_callback(self._closing_sessions.discard)

    async def _close_one(self, session: Session, reason: str) -> None:
        try:
            async with asyncio.timeout(SESSION_CLOSE_TIMEOUT_S):
                await session.close(reason)
        except Exception:
            logger.exception("playback %s: closing the session on %s (%s) failed", self.key,
                             session.label, reason)

    # The end.

    async def close(self, reason: str = CLOSED) -> None:
        """Close the hub: the running session ends with `reason`, players' responses end. Returns
        when the hub is done. Idempotent (a second call waits for the first)."""
        if self._terminal:
            await self.done.wait()
            return
        self._terminal = True
        self._close_reason = reason
        upstream = self._upstream
        if upstream is not None and not upstream.done():
            upstream.cancel()
            await asyncio.gather(upstream, return_exceptions=True)
        await self._wind_down("closed")

    async def _wind_down(self, final: str) -> None:
        if self._linger is not None and self._linger is not asyncio.current_task():
            self._linger.cancel()
        self._linger = None
        self.ring.close()
        self._ready.set()
        # Every player ends now, rather than draining its last batch: a player that is not reading
        # would never drain, and what is lost is a fraction of a second of a stream that is over.
        for player in list(self._players):
            player.cut(HUB_CLOSED)
        if self._closing_sessions:
            await asyncio.gather(*self._closing_sessions, return_exceptions=True)
        self._final = final
        self.label = None
        logger.info("playback %s: %s (%s)", self.key, final, self._close_reason if final == "closed"
                    else repr(self.error))
        self._notify("closed")
        self.done.set()

    # Helpers.

    def _count(self, reason: str) -> None:
        self.failovers[reason] = self.failovers.get(reason, 0) + 1

    def _notify(self, event: str) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change(self, event)
        except Exception:
            logger.exception("playback %s: on_change(%s) failed", self.key, event)

    def _spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task
