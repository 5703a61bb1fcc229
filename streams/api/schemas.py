from datetime import datetime
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import StrictBool, StrictInt, StringConstraints, model_validator

from core.schemas import Labels, Port
from engines.api.schemas import EngineState
from streams.models import KeyType

# Docker ids and names, or an id a proxy made up for an engine it runs itself.
ContainerRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
# A host name, IPv4 address or IPv6 address (bare or in brackets).
EngineHost = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9\[][A-Za-z0-9._:\[\]-]{0,99}$")]
# Key and session id are joined into the stream id `<key>|<playback_session_id>` (1024 at most).
# No NUL anywhere (PostgreSQL refuses it in text); no spaces or control characters in a URL.
_NO_NUL = r"^[^\x00]*$"
_NO_SPACE = r"^[^\x00-\x20\x7f]+$"
StreamKey = Annotated[str, StringConstraints(min_length=1, max_length=900, pattern=_NO_NUL)]
SessionId = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_NO_SPACE)]
StreamId = Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=_NO_NUL)]
EngineUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048, pattern=_NO_SPACE)]
Reason = Annotated[str, StringConstraints(max_length=200, pattern=_NO_NUL)]
# The engine answers 0 or 1; a bool is accepted too, a string is not.
IsLive = StrictBool | Annotated[StrictInt, Field(ge=0, le=1)]


class EngineAddress(Schema):
    host: EngineHost
    port: Port


class StreamKeyIn(Schema):
    key_type: Literal[tuple(KeyType.values)]  # type: ignore[valid-type]
    key: StreamKey


class SessionIn(Schema):
    playback_session_id: SessionId
    stat_url: EngineUrl
    command_url: EngineUrl
    is_live: IsLive


class StreamStartedIn(Schema):
    container_id: ContainerRef | None = None
    engine: EngineAddress
    stream: StreamKeyIn
    session: SessionIn
    labels: Labels = Field(default_factory=dict)


class StreamEndedIn(Schema):
    container_id: ContainerRef | None = None
    stream_id: StreamId | None = None
    reason: Reason | None = None

    @model_validator(mode="after")
    def needs_an_id(self):
        if not self.container_id and not self.stream_id:
            raise ValueError("give stream_id or container_id (or both)")
        return self


class StatsOut(Schema):
    ts: datetime
    peers: int | None
    speed_down: int | None
    speed_up: int | None
    downloaded: int | None
    uploaded: int | None
    status: str


class StreamState(Schema):
    id: str
    key_type: str
    key: str
    container_id: str
    playback_session_id: str
    stat_url: str
    command_url: str
    is_live: bool
    started_at: datetime
    ended_at: datetime | None
    status: str
    ended_reason: str
    labels: dict[str, str]
    played_by: str = ""
    # Filled by streams.services.with_latest_stats; null when not loaded or nothing collected yet.
    latest_stats: StatsOut | None = None


class StreamEndedOut(Schema):
    updated: bool
    stream: StreamState | None


class StreamStoppedOut(Schema):
    """The original's answer (`message`, `stream_id`), and whether the engine confirmed."""

    message: str
    stream_id: str
    engine_confirmed: bool
    problem: str | None
    stream: StreamState


class LivePosition(Schema):
    """As the engine reports it: strings (epoch seconds or piece numbers, by engine version)."""

    pos: str | None
    live_first: str | None
    live_last: str | None
    first_ts: str | None
    last_ts: str | None
    buffer_pieces: str | None


class LiveposOut(Schema):
    stream_id: str
    has_livepos: bool
    is_live: bool
    livepos: LivePosition | None = None


class EngineDetail(Schema):
    engine: EngineState
    streams: list[StreamState]
