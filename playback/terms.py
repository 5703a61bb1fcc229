"""The terms of a hub (playback.hub): what the hub and its callers share, with no code of the hub's.

Its limits (`Limits`), the session it reads (the `Session` protocol and the `StartSession` that makes
one), the names it reports with (why a session ended, what `Hub.serve` returns, the `on_change`
events), the bounds it puts on what it awaits, and its exceptions. They live apart from the hub so
that both halves of it, the upstream (playback.hub) and the players (playback.players), import them
without importing each other, and so that the hub's module stays under the project's 400 lines.
Every name here is importable from playback.hub as well, where callers have always found them.

Like the hub: asyncio and the stdlib only, no Django.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from playback.packets import PACKET

if TYPE_CHECKING:
    from playback.hub import Hub

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
    # A player's batches (see playback.players' docstring).
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
