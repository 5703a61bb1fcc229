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

This module holds `Hub` and its upstream side (sessions, failover, pumping, the stall watchdog,
closing). `Hub` inherits its player side (seats, admitting, serving in batches, the disconnect, ending
the response, the sweep) from `PlayerSide` in playback.players; the limits, the `Session` protocol,
the reason and event names and the exceptions are in playback.terms. Their public names are importable
from here too.

The hub is the lowest layer of the playback app: asyncio and the stdlib only, no Django.
"""

from __future__ import annotations

import asyncio
import logging
import time

from playback.packets import Aligner, NotTransportStream
from playback.players import PlayerSide, Seat, _Player
from playback.ring import Ring
from playback.terms import (
    CHUNKS_CLOSE_TIMEOUT_S,
    CLOSED,
    CUT_OFF,
    DROPPED,
    ENGINE_DIED,
    EVENTS,
    FINAL_SEND_TIMEOUT_S,
    HUB_CLOSED,
    LEFT,
    MOVED,
    NO_PLAYERS,
    NOT_TS,
    SESSION_CLOSE_TIMEOUT_S,
    STALLED,
    START_FAILED,
    SWEEP_INTERVAL_S,
    HubClosed,
    Limits,
    OnChange,
    PlaybackError,
    Session,
    SessionFailed,
    StartFailed,
    StartSession,
    StartTimeout,
    TooManyPlayers,
)

# What callers import from here, wherever it is defined (see the module docstring).
__all__ = [
    "CHUNKS_CLOSE_TIMEOUT_S", "CLOSED", "CUT_OFF", "DROPPED", "ENGINE_DIED", "EVENTS", "FINAL_SEND_TIMEOUT_S",
    "HUB_CLOSED", "LEFT", "MOVED", "NO_PLAYERS", "NOT_TS", "SESSION_CLOSE_TIMEOUT_S", "STALLED",
    "START_FAILED", "SWEEP_INTERVAL_S", "Hub", "HubClosed", "Limits", "OnChange", "PlaybackError", "Seat",
    "Session", "SessionFailed", "StartFailed", "StartSession", "StartTimeout", "TooManyPlayers",
]

logger = logging.getLogger(__name__)


class Hub(PlayerSide):
    """One content's upstream and players. See the module docstring.

    Stats for status pages: players, bytes_sent, bytes_received, since (Unix time), failovers
    (sessions that failed or were moved, and failed starts, by reason: "stalled", "dropped", "not_ts",
    "engine_died", "moved", "start_failed"), cut_off, sessions (started), label (current engine, None
    between sessions), state ("starting", "streaming", "failing_over", "lingering", "closing",
    "failed", "closed"), error (why it failed).
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
        if self._terminal:
            return "closing"  # its sessions are being closed; `done` comes after
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

    # The players (admit, wait_ready, serve): PlayerSide, in playback.players.

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
            if cause is None:  # the session ended while lingering: nobody to fail over for
                self._terminal = True
                self._close_reason = NO_PLAYERS
                await self._wind_down("closed")
                return
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

    async def _failover_loop(self) -> BaseException | None:
        """Start sessions until failover_tries attempts in a row failed; returns the last cause,
        or None when a session ends while the hub lingers without players (no other engine is
        started for nobody)."""
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
            if reason != MOVED and self._linger is not None:
                logger.info("playback %s: session on %s ended (%s) with no player left", self.key,
                            label, reason)
                return None
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
